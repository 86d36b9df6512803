import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response } from 'express';

/** Where `npm run build` puts the dashboard (Vite's output, next to the compiled server). */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');

/**
 * Serves the dashboard at /ui: static files that read the REST API with the
 * browser's own token, so they need no access check of their own (every API
 * call still goes through it). Hashed assets are cached for good; index.html
 * never, so a new build is picked up on reload.
 */
export function serveDashboard(app: Express, dir = DASHBOARD_DIR): void {
  const index = join(dir, 'index.html');
  app.get('/', (_req: Request, res: Response) => res.redirect(302, '/ui/'));
  app.use('/ui', (req: Request, res: Response, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!existsSync(index)) {
      res.status(404).type('text/plain').send('The dashboard is not built: run `npm run build` (it builds ui/ into build/ui).\n');
      return;
    }
    if (req.originalUrl === '/ui') return res.redirect(301, '/ui/');
    next();
  });
  app.use('/ui/assets', express.static(join(dir, 'assets'), { immutable: true, maxAge: '365d', fallthrough: false }));
  app.get('/ui/', (_req: Request, res: Response) => {
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(index);
  });
}
