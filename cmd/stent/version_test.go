package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	// A test binary has no module version, unless the toolchain stamps one from VCS.
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	res := runCLI(t, t.Context(), nil, "version")
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("stent %s (schema version %d, functions version %d, %s)\n",
		version, stent.SchemaVersion, stent.CodeVersion, runtime.Version())}, res)

	res = runCLI(t, t.Context(), nil, "version", "-o", "json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var info versionInfo
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &info))
	require.Equal(t, versionInfo{Version: version, SchemaVersion: stent.SchemaVersion, CodeVersion: stent.CodeVersion,
		GoVersion: runtime.Version()}, info)
}
