// Package sql embeds Stent's migrations (schema/) and PL/pgSQL functions (functions/, a tern
// code package) so that stent.Migrate needs no files on disk.
package sql

import "embed"

// Schema holds the tern migrations, schema/NNN_name.sql.
//
//go:embed schema/*.sql
var Schema embed.FS

// Functions holds the tern code package: functions/install.sql and the files it includes.
//
//go:embed functions/*.sql
var Functions embed.FS
