package target

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParseDSNList reads a target given on the command line instead of a file:
//
//	KIND:USER:PASSWORD@HOST:PORT[,HOST:PORT...]   e.g. galera:rb:rb@127.0.0.1:13301,127.0.0.1:13302,127.0.0.1:13303
//
// The nodes are n1..nN in the order given (for semisync n1 is the source). It goes through
// the same checks as a target file (ParseFile), so the errors are the same one-liners. A
// cluster given this way has no network section: delays and measured round trips are a
// target file's (scripts/real-cluster.sh writes them).
func ParseDSNList(s string) (*File, error) {
	form := "KIND:USER:PASSWORD@HOST:PORT[,HOST:PORT...], e.g. galera:rb:rb@127.0.0.1:13301,127.0.0.1:13302"
	cred, hosts, ok := strings.Cut(s, "@")
	parts := strings.SplitN(cred, ":", 3)
	if !ok || len(parts) < 2 || hosts == "" {
		return nil, fmt.Errorf("target %q: want %s", s, form)
	}
	kind, user, password := parts[0], parts[1], ""
	if len(parts) == 3 {
		password = parts[2]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kind: %s\nnodes:\n", strconv.Quote(kind))
	for i, hp := range strings.Split(hosts, ",") {
		h, p, err := net.SplitHostPort(strings.TrimSpace(hp))
		port, perr := strconv.Atoi(p)
		if err != nil || perr != nil {
			return nil, fmt.Errorf("target %q: node %d %q is not HOST:PORT (want %s)", s, i+1, hp, form)
		}
		fmt.Fprintf(&b, "  - {name: n%d, host: %s, port: %d, user: %s, password: %s}\n", i+1, strconv.Quote(h), port, strconv.Quote(user), strconv.Quote(password))
	}
	return ParseFile("(command line)", []byte(b.String()))
}

// Load reads a target from a file, or from a DSN list (ParseDSNList) when arg contains "@"
// and is not an existing file's name.
func Load(arg string) (*File, error) {
	if strings.Contains(arg, "@") && !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") {
		return ParseDSNList(arg)
	}
	return LoadFile(arg)
}
