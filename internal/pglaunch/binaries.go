package pglaunch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrNoPostgres is returned by Start when no PostgreSQL server binaries can be
// found. Test it with errors.Is; the returned error also lists where Start
// looked.
var ErrNoPostgres = errors.New("pglaunch: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; " +
	"install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15) " +
	"or set DATABASE_URL / STENT_TEST_DATABASE_URL to use an existing server")

// binDirPatterns are the well-known install locations searched when pg_config
// is not on PATH: Debian/Ubuntu packages and Homebrew kegs (which are not
// linked onto PATH for versioned formulae).
var binDirPatterns = []string{
	"/usr/lib/postgresql/*/bin",
	"/opt/homebrew/opt/postgresql@*/bin",
	"/usr/local/opt/postgresql@*/bin",
}

// requiredPrograms must all be present in a directory for it to be usable.
var requiredPrograms = []string{"initdb", "pg_ctl", "postgres"}

// serverBinDir returns the directory holding the PostgreSQL server programs:
// the output of `pg_config --bindir` when pg_config is on PATH and that
// directory contains the server, else the newest version among the usual
// install locations. It returns an error wrapping ErrNoPostgres when none is
// found.
func serverBinDir() (string, error) {
	return findBinDir(pgConfigBinDir, binDirPatterns)
}

// findBinDir is serverBinDir with its sources injected, for tests.
func findBinDir(pgConfig func() string, patterns []string) (string, error) {
	var searched []string
	if dir := pgConfig(); dir != "" {
		if hasServer(dir) {
			return dir, nil
		}
		searched = append(searched, dir+" (pg_config --bindir)")
	} else {
		searched = append(searched, "pg_config on PATH")
	}
	for _, pattern := range patterns {
		searched = append(searched, pattern)
		matches, _ := filepath.Glob(pattern)
		sortNewestFirst(matches)
		for _, dir := range matches {
			if hasServer(dir) {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("%w (searched: %s)", ErrNoPostgres, strings.Join(searched, ", "))
}

// pgConfigBinDir asks a pg_config found on PATH for its bindir. Debian's
// libpq-dev ships a pg_config without the server, hence the hasServer check
// by the caller.
func pgConfigBinDir() string {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	out, err := exec.Command(path, "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// hasServer reports whether dir contains every program Start runs.
func hasServer(dir string) bool {
	for _, name := range requiredPrograms {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\d+(?:\.\d+)?`)

// sortNewestFirst orders install directories by the PostgreSQL version in
// their path (".../15/bin", ".../postgresql@16/bin"), newest first, so that
// 16 beats 9.6 (a plain string sort gets that wrong).
func sortNewestFirst(dirs []string) {
	version := func(dir string) float64 {
		// The version is in the component before "bin".
		m := versionRE.FindString(filepath.Base(filepath.Dir(dir)))
		v, _ := strconv.ParseFloat(m, 64)
		return v
	}
	sort.SliceStable(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
}
