package layering

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/replbench/replbench/"

// rule forbids packages under from (a path below the module) to import any package under
// one of the listed prefixes. A prefix "galera" covers galera and galera/...
type rule struct {
	from    string
	denied  []string
	why     string
	allowed []string // exceptions under a denied prefix
}

var protocolsImpl = []string{"galera", "groupreplication", "semisync"}

var rules = []rule{
	{"protocols", append([]string{"harness", "cmd", "workloads", "storage", "results"}, protocolsImpl...),
		"protocols is the interface layer every protocol and storage build on", nil},
	{"storage", append([]string{"harness", "cmd", "workloads", "results"}, protocolsImpl...),
		"storage sees protocols only through the provider interfaces", nil},
	// internal/driver speaks the interface layer's errors (protocols.Error), so protocols
	// itself is allowed; no protocol implementation is.
	{"internal", append([]string{"harness", "cmd", "workloads", "storage", "results"}, protocolsImpl...),
		"internal is plumbing with no knowledge of any protocol", nil},
	{"results", append([]string{"harness", "cmd", "workloads", "storage"}, protocolsImpl...),
		"results is data and rendering at the bottom", nil},
	// harness/history is plain data (operations and their outcomes) with no import of its
	// own in the module: the checker workloads record into it, the checkers read it.
	{"workloads", append([]string{"harness", "cmd"}, protocolsImpl...),
		"a workload is written against workloads.DB, never a protocol", []string{"harness/history"}},
	{"galera", []string{"harness", "cmd", "workloads", "groupreplication", "semisync"},
		"a protocol never imports another protocol, the harness or a workload", nil},
	{"groupreplication", []string{"harness", "cmd", "workloads", "galera", "semisync"},
		"a protocol never imports another protocol, the harness or a workload", nil},
	{"semisync", []string{"harness", "cmd", "workloads", "galera", "groupreplication"},
		"a protocol never imports another protocol, the harness or a workload", nil},
	{"harness", []string{"cmd"}, "the command line sits on top of the harness", nil},
}

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// TestImportsPointDown reads every non-test Go file's imports (go/build, no compilation)
// and checks each against the rules. Test files are exempt: a protocol's tests may start a
// harness cluster to check themselves end to end.
func TestImportsPointDown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); dir != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		checked++
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			target := strings.TrimPrefix(imp, module)
			for _, r := range rules {
				if !under(rel, r.from) {
					continue
				}
				for _, d := range r.denied {
					if under(target, d) && !under(target, r.from) && !slices.ContainsFunc(r.allowed, func(a string) bool { return under(target, a) }) {
						t.Errorf("%s imports %s: %s (docs/DESIGN.md, Layers)", rel, target, r.why)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d packages from %s: the walk did not find the module", checked, root)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
}
