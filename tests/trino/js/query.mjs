// Runs one query through the trino JavaScript client (trino-client from npm) and
// prints {columns, rows, error, pages} as JSON; tests/trino/test_js_client.py drives it.
import { readFileSync } from 'node:fs';
import { BasicAuth, Trino } from 'trino-client';

const env = process.env;
const trino = Trino.create({
  server: env.DPSQL_URL,
  catalog: 'dpsql',
  schema: 'public',
  auth: new BasicAuth(env.DPSQL_USER, env.DPSQL_KEY),
  ssl: { ca: readFileSync(env.DPSQL_CA) },
  session: env.DPSQL_SESSION ? JSON.parse(env.DPSQL_SESSION) : undefined,
});

const out = { columns: null, rows: [], error: null, pages: 0, id: null };
const iterator = await trino.query(env.DPSQL_SQL);
for await (const result of iterator) {
  out.pages += 1;
  out.id = result.id;
  if (result.columns) out.columns = result.columns.map((c) => [c.name, c.type]);
  if (result.data) out.rows.push(...result.data);
  if (result.error) out.error = { name: result.error.errorName, message: result.error.message };
}
console.log(JSON.stringify(out));
