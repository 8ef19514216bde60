// Node.js drivers against one endpoint (a server directly, or sluice): runs a fixed list of
// checks and prints what each saw as one JSON object, so that node_drivers_test.py can
// compare the server's answers with sluice's. Never throws for a failed check: its error
// goes into the output instead.
//
//   node drivers.js <mariadb|mysql2|pg> <port> <user> <password> <database> [tls]
'use strict';

const [, , driver, portText, user, password, database, tlsFlag] = process.argv;
const port = Number(portText);
const tls = tlsFlag === 'tls';
const out = {};

async function check(name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: String(e.code || e.errno || ''), message: String(e.message) };
  }
}

async function mariadbChecks() {
  const mariadb = require('mariadb');
  const base = { host: '127.0.0.1', port, user, password, database, connectTimeout: 10000 };
  const c = await mariadb.createConnection(base);
  try {
    await check('server_version', async () => c.serverVersion());
    await check('json_column_is_an_object', async () => {
      await c.query('CREATE TABLE IF NOT EXISTS node_json (id INT PRIMARY KEY, doc JSON)');
      await c.query('REPLACE INTO node_json VALUES (1, ?)', [JSON.stringify({ a: [1, 2] })]);
      const rows = await c.query('SELECT doc FROM node_json WHERE id = 1');
      return { type: typeof rows[0].doc, value: rows[0].doc };
    });
    await check('prepared_binary_rows', async () => {
      const rows = await c.execute('SELECT ? + 1 AS n, CAST(? AS CHAR) AS s', [41, 'x']);
      return rows.map((r) => [Number(r.n), r.s]);
    });
    await check('user_variable_in_session', async () => {
      await c.query('SET @node_v = 7');
      const rows = await c.query('SELECT @node_v AS v');
      return Number(rows[0].v);
    });
    await check('error_code', async () => {
      try {
        await c.query('SELECT no_such_column FROM node_json');
        return 'no error';
      } catch (e) {
        return { errno: e.errno, sqlState: e.sqlState };
      }
    });
  } finally {
    await c.end();
  }
  await check('compressed_large_result', async () => {
    const cc = await mariadb.createConnection({ ...base, compress: true });
    try {
      // About 3 MiB of rows: a result of many compressed frames, then a statement after it.
      const rows = await cc.query(
        'SELECT seq, REPEAT("z", 300) AS pad FROM seq_1_to_10000 ORDER BY seq');
      const after = await cc.query('SELECT 1 + 1 AS two');
      return { rows: rows.length, last: Number(rows[rows.length - 1].seq), two: Number(after[0].two) };
    } finally {
      await cc.end();
    }
  });
}

async function mysql2Checks() {
  const mysql = require('mysql2/promise');
  const base = { host: '127.0.0.1', port, user, password, database, connectTimeout: 10000 };
  if (tls) base.ssl = { rejectUnauthorized: false };
  const c = await mysql.createConnection(base);
  try {
    await check('query', async () => {
      const [rows] = await c.query('SELECT 1 + 1 AS two, "x" AS s');
      return rows[0];
    });
    await check('execute_prepared_twice', async () => {
      const got = [];
      for (const v of [1, 2]) {
        const [rows] = await c.execute('SELECT ? * 10 AS n', [v]);
        got.push(Number(rows[0].n));
      }
      return got;
    });
    await check('transaction_rollback', async () => {
      await c.query('CREATE TABLE IF NOT EXISTS node_tx (id INT PRIMARY KEY)');
      await c.query('DELETE FROM node_tx');
      await c.beginTransaction();
      await c.query('INSERT INTO node_tx VALUES (1)');
      await c.rollback();
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM node_tx');
      return Number(rows[0].n);
    });
    await check('error_code', async () => {
      try {
        await c.query('SELECT * FROM no_such_table_node');
        return 'no error';
      } catch (e) {
        return { errno: e.errno, sqlState: e.sqlState };
      }
    });
    if (tls) await check('tls_cipher', async () => Boolean(c.connection.stream.getCipher()));
  } finally {
    await c.end();
  }
  await check('compressed', async () => {
    const cc = await mysql.createConnection({ ...base, compress: true });
    try {
      const [rows] = await cc.query('SELECT seq FROM seq_1_to_20000');
      const [two] = await cc.execute('SELECT ? + 1 AS n', [1]);
      return { rows: rows.length, two: Number(two[0].n) };
    } finally {
      await cc.end();
    }
  });
}

async function pgChecks() {
  const { Client } = require('pg');
  const c = new Client({ host: '127.0.0.1', port, user, password, database,
                         connectionTimeoutMillis: 10000, ssl: tls ? { rejectUnauthorized: false } : false });
  await c.connect();
  try {
    await check('simple_query', async () => (await c.query('SELECT 1 + 1 AS two')).rows[0]);
    await check('parameterized', async () =>
      (await c.query('SELECT $1::int * 2 AS n, $2::text AS s', [21, 'x'])).rows[0]);
    await check('named_prepared_twice', async () => {
      const got = [];
      for (const v of [1, 2]) {
        const r = await c.query({ name: 'node_q1', text: 'SELECT $1::int + 100 AS n', values: [v] });
        got.push(r.rows[0].n);
      }
      return got;
    });
    await check('json_parsed', async () => {
      const r = await c.query(`SELECT '{"a":[1,2]}'::json AS j, '{"b":1}'::jsonb AS jb`);
      return { j: r.rows[0].j, jb: r.rows[0].jb };
    });
    await check('error_code', async () => {
      try {
        await c.query('SELECT 1/0');
        return 'no error';
      } catch (e) {
        return { code: e.code, severity: e.severity };
      }
    });
    await check('after_error_transaction', async () => {
      await c.query('BEGIN');
      try {
        await c.query('SELECT * FROM no_such_table_node');
      } catch (e) {
        // the transaction is aborted now, as on the server
      }
      let aborted = null;
      try {
        await c.query('SELECT 1');
      } catch (e) {
        aborted = e.code;
      }
      await c.query('ROLLBACK');
      return aborted;
    });
    if (tls) await check('tls', async () => Boolean(c.connection.stream.encrypted));
  } finally {
    await c.end();
  }
}

(async () => {
  const run = { mariadb: mariadbChecks, mysql2: mysql2Checks, pg: pgChecks }[driver];
  if (!run) throw new Error(`unknown driver ${driver}`);
  await run();
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: String(e.message), code: String(e.code || '') }) + '\n');
  process.exitCode = 1;
});
