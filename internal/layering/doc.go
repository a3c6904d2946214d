// Package layering holds no code: its test asserts the dependency direction that
// docs/DESIGN.md states (imports point down only), so that a convenient upward import —
// a protocol reaching into the harness, a workload knowing a protocol's types — fails
// `go test ./...` instead of slowly turning the layers into a web.
package layering
