import { createDataSource } from '../database/database.js';
import { ENTITIES } from '../registry/store/entities.js';
import { AUTH_ENTITIES } from '../auth/token.entity.js';

/** DataSource for TypeORM's own CLI (migration:generate); needs DATABASE_URL. */
if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is required');
export default createDataSource(process.env.DATABASE_URL, 1, [...ENTITIES, ...AUTH_ENTITIES]);
