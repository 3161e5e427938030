package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// versionInfo is what the version command reports.
type versionInfo struct {
	Version       string `json:"version"`        // module version, "(devel)" for a source build
	SchemaVersion int32  `json:"schema_version"` // migration version this build expects
	CodeVersion   int32  `json:"code_version"`   // function package version this build installs
	GoVersion     string `json:"go_version"`
}

func (c *cli) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of stent and of the schema it expects",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := versionInfo{Version: "(devel)", SchemaVersion: stent.SchemaVersion,
				CodeVersion: stent.CodeVersion, GoVersion: runtime.Version()}
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				info.Version = bi.Main.Version
			}
			return c.print(info, func() error {
				_, err := fmt.Fprintf(c.stdout, "stent %s (schema version %d, functions version %d, %s)\n",
					info.Version, info.SchemaVersion, info.CodeVersion, info.GoVersion)
				return err
			})
		},
	}
}
