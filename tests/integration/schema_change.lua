-- The mirrored workload of schema_change_test.py: nine statement shapes on the sbtest tables
-- that `sysbench oltp_read_write prepare` made, each event runs every shape once.
-- sbtest1 and sbtest2 are only read (a read of a table other sessions write could return
-- other rows on the shadow merely because the shadow commits the sessions in its own order);
-- sbtest3 takes the writes.
--
-- Usage: sysbench schema_change.lua --db-driver=mysql ... --table-size=N run

sysbench.cmdline.options = {
  table_size = {"Rows in each sbtest table (as prepared)", 10000},
  small_size = {"Rows in sbtest2 and sbtest3", 10000},
  tables = {"sbtest tables (this script uses sbtest1..3)", 3},
}

function thread_init()
  drv = sysbench.sql.driver()
  con = drv:connect()
end

function thread_done()
  con:disconnect()
end

local function rand_id(size, span)
  return sysbench.rand.uniform(1, size - (span or 0))
end

function event()
  local id = rand_id(sysbench.opt.table_size)
  local lo = rand_id(sysbench.opt.table_size, 100)
  local small = rand_id(sysbench.opt.small_size)
  local small_lo = rand_id(sysbench.opt.small_size, 20)
  -- 1. point read: ok
  con:query(string.format("SELECT c FROM sbtest1 WHERE id = %d", id))
  -- 2. a frequent read by the secondary index k_1: `slower` once k_1 is dropped
  con:query(string.format("SELECT COUNT(*) FROM sbtest1 WHERE k = %d", id))
  -- 3. the one statement that reads `pad`: `new errors` once pad is renamed
  con:query(string.format("SELECT pad FROM sbtest1 WHERE id = %d", id))
  -- 4. a range of sbtest2: `different results` once some rows' c change on the shadow
  con:query(string.format("SELECT id, c FROM sbtest2 WHERE id BETWEEN %d AND %d", small_lo,
                          small_lo + 19))
  -- 5. an aggregate over a range: ok
  con:query(string.format("SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN %d AND %d", lo, lo + 99))
  -- 6. an ordered range: ok
  con:query(string.format("SELECT c FROM sbtest1 WHERE id BETWEEN %d AND %d ORDER BY c",
                          lo, lo + 9))
  -- 7..10. a transaction that writes sbtest3: BEGIN, UPDATE, INSERT, COMMIT: ok
  con:query("BEGIN")
  con:query(string.format("UPDATE sbtest3 SET k = k + 1 WHERE id = %d", small))
  con:query(string.format("INSERT INTO sbtest3 (k, c, pad) VALUES (%d, '%s', '%s')", small,
                          sysbench.rand.string("###########-###########"),
                          sysbench.rand.string("###########")))
  con:query("COMMIT")
end
