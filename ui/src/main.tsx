import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { token } from './api.js';
import { Changes } from './pages/changes.js';
import { Overview } from './pages/overview.js';
import { Proxies, ProxyConfig } from './pages/proxies.js';
import { RolloutDetail, Rollouts } from './pages/rollouts.js';
import { ServiceDetail, Services } from './pages/services.js';
import './style.css';

const NAV = [
  ['overview', 'Overview'],
  ['services', 'Services'],
  ['proxies', 'Proxies'],
  ['rollouts', 'Rollouts'],
  ['changes', 'Changes'],
] as const;

const route = () => (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);

function page([p, arg]: string[]) {
  switch (p) {
    case 'services':
      return arg ? <ServiceDetail name={arg} /> : <Services />;
    case 'proxies':
      return arg ? <ProxyConfig id={arg} /> : <Proxies />;
    case 'rollouts':
      return arg ? <RolloutDetail name={arg} /> : <Rollouts />;
    case 'changes':
      return <Changes />;
    default:
      return <Overview />;
  }
}

const THEME_KEY = 'switchyard.theme';

/** The frame: navigation, theme switch and the API token; pages poll the REST API. */
function App() {
  const [at, setAt] = useState(route());
  const [theme, setTheme] = useState(localStorage.getItem(THEME_KEY) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
  useEffect(() => {
    const on = () => setAt(route());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  const askToken = () => {
    const t = prompt('API token (kept in this browser; empty to clear)', token.get());
    if (t !== null) {
      token.set(t.trim());
      location.reload();
    }
  };
  return (
    <>
      <nav class="top">
        <span class="brand">Switchyard</span>
        {NAV.map(([id, label]) => (
          <a key={id} href={`#/${id}`} class={at[0] === id || (id === 'overview' && !NAV.some(([n]) => n === at[0])) ? 'active' : ''}>
            {label}
          </a>
        ))}
        <span class="spacer" />
        <button type="button" onClick={askToken} title="the bearer token the dashboard sends">
          {token.get() ? 'token ✓' : 'token'}
        </button>
        <button type="button" onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')} data-testid="theme">
          {theme === 'dark' ? 'light' : 'dark'} theme
        </button>
      </nav>
      <main key={at.join('/')}>{page(at)}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
