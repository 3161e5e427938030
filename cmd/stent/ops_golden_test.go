package main

import "testing"

// TestGolden runs every read-only command on the seeded database, in table and JSON form,
// and compares the output with testdata/*.golden.
func TestGolden(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	id := func(i int) string { return b.ids[i].String() }
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"list", []string{"list"}},
		{"list_failed", []string{"list", "--state", "failed"}},
		{"list_filters", []string{"list", "--workflow", "shop.checkout", "--queue", "default", "--tag", "eu", "--since", "10s"}},
		{"list_empty", []string{"list", "--queue", "nowhere"}},
		{"show_completed", []string{"show", id(opsCompleted)}},
		{"show_pending", []string{"show", id(opsPending)}},
		{"show_crashed", []string{"show", id(opsCrashed)}},
		{"tasks_list", []string{"tasks", "list"}},
		{"tasks_running", []string{"tasks", "list", "--state", "running", "--worker", "w-ops"}},
		{"tasks_show", []string{"tasks", "show", "8"}},
		{"tasks_show_pending", []string{"tasks", "show", "9"}},
		{"stats", []string{"stats"}},
		{"dlq_list", []string{"dlq", "list"}},
		{"dlq_show", []string{"dlq", "show", "2"}},
		{"workers", []string{"workers"}},
		{"explain_pending", []string{"explain", id(opsPending)}},
		{"explain_running", []string{"explain", id(opsRunning)}},
		{"explain_completed", []string{"explain", id(opsCompleted)}},
		{"watch_once", []string{"watch", "--once"}},
		{"watch_once_small", []string{"watch", "--once", "--width", "60", "--height", "12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.golden(t, tc.name, b.cli(t, tc.args...))
			if tc.name == "watch_once" || tc.name == "watch_once_small" {
				return
			}
			b.golden(t, tc.name+"_json", b.cli(t, append([]string{"-o", "json"}, tc.args...)...))
		})
	}
	// -o text is the old name of table.
	b.golden(t, "list", b.cli(t, "-o", "text", "list"))
}
