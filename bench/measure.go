package main

import (
	"bufio"
	"context"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// sample is the figures of one run of one workload on one system, by metric name.
type sample map[string]float64

// dbLoad is a point-in-time reading of the statements executed in the current database
// (pg_stat_statements, excluding the benchmark's own /*bench*/ queries) and the WAL position.
type dbLoad struct {
	calls int64
	wal   int64
}

func readDBLoad(ctx context.Context, pool *pgxpool.Pool) (dbLoad, error) {
	var s dbLoad
	err := pool.QueryRow(ctx, `SELECT /*bench*/
		coalesce((SELECT sum(calls)::bigint FROM pg_stat_statements
		          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		            AND query NOT LIKE '%bench%' AND query NOT LIKE '%pg_stat_statements%'), 0),
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&s.calls, &s.wal)
	return s, err
}

// perTask adds the statements and WAL bytes per finished task between two readings.
func (s sample) perTask(before, after dbLoad, tasks int) {
	s[mStmts] = float64(after.calls-before.calls) / float64(tasks)
	s[mWAL] = float64(after.wal-before.wal) / float64(tasks)
}

// procStatusKB reads a kB field of /proc/self/status (VmRSS, VmHWM); 0 where unavailable.
func procStatusKB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return v
		}
	}
	return 0
}

// summary returns the median, min and max.
func summary(xs []float64) (med, lo, hi float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2], s[0], s[len(s)-1]
}
