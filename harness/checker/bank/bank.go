// Package bank checks the bank workload: transfers move money between accounts, so every
// read of all balances must add up to the same total, and no balance may go negative unless
// the workload allows it. A read that sees a transfer half applied (one side debited, the
// other not yet credited) breaks the total: it is the read skew of a non-atomic snapshot.
package bank

import (
	"fmt"
	"slices"
	"strings"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// Options describe the bank.
type Options struct {
	// Accounts are every account's key; a read must see each exactly once.
	Accounts []string
	// Total is the sum of the initial balances.
	Total int64
	// AllowNegative accepts negative balances (a workload that does not check funds).
	AllowNegative bool
	// MaxWitnesses per class (default 5).
	MaxWitnesses int
}

// Check checks every ok read of balances in h (an operation made only of register reads),
// and, when nodes are given, each live node's final balances.
func Check(h []history.Op, nodes []checker.NodeState, opts Options) (checker.Verdict, error) {
	v := checker.Verdict{Checker: checker.BankName, Valid: checker.True, Checked: map[string]int{}}
	if len(opts.Accounts) == 0 {
		return v, fmt.Errorf("bank: Options.Accounts is empty; name every account the workload uses")
	}
	if opts.MaxWitnesses <= 0 {
		opts.MaxWitnesses = 5
	}
	known := map[string]bool{}
	for _, a := range opts.Accounts {
		known[a] = true
	}
	type class struct {
		n  int
		ws []checker.Witness
	}
	found := map[string]*class{}
	flag := func(cls, text string, ops ...int) {
		c := found[cls]
		if c == nil {
			c = &class{}
			found[cls] = c
		}
		c.n++
		if len(c.ws) < opts.MaxWitnesses {
			c.ws = append(c.ws, checker.Witness{Text: text, Ops: ops})
		}
	}
	reads := 0
	for i := range h {
		o := &h[i]
		for _, m := range o.Mops {
			switch {
			case m.F == history.Transfer && (!known[m.Key] || !known[m.To]):
				return v, fmt.Errorf("bank: op %d transfers between %s and %s; accounts are %s", i, m.Key, m.To, strings.Join(opts.Accounts, ", "))
			case m.F != history.Transfer && m.F != history.Read:
				return v, fmt.Errorf("bank: op %d has %s; the bank workload uses transfer and r", i, m.F)
			}
		}
		if o.Outcome != history.OK || !allReads(o) {
			continue
		}
		reads++
		bal := map[string]int64{}
		var sum int64
		var extra []string
		for _, m := range o.Mops {
			if !known[m.Key] {
				extra = append(extra, m.Key)
				continue
			}
			if m.Result == history.ValueResult {
				bal[m.Key] = m.Value
				sum += m.Value
			} else {
				bal[m.Key] = 0
			}
		}
		var missing []string
		for _, a := range opts.Accounts {
			if _, ok := bal[a]; !ok {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 || len(extra) > 0 {
			flag("incomplete-read", fmt.Sprintf("op %d read the accounts without %v and with unknown %v\n  %s\n", i, missing, extra, o.String()), i)
			continue
		}
		if sum != opts.Total {
			flag("wrong-total", fmt.Sprintf("op %d read balances totalling %d, not %d\n  %s\n", i, sum, opts.Total, o.String()), i)
		}
		if !opts.AllowNegative {
			for _, a := range opts.Accounts {
				if bal[a] < 0 {
					flag("negative-balance", fmt.Sprintf("op %d read %s = %d\n  %s\n", i, a, bal[a], o.String()), i)
					break
				}
			}
		}
	}
	v.Checked["reads"] = reads
	for _, n := range nodes {
		var sum int64
		for _, a := range opts.Accounts {
			b, _, err := n.Value(a)
			if err != nil {
				return v, fmt.Errorf("bank: reading %s on %s: %w", a, n.Node(), err)
			}
			sum += b
			if b < 0 && !opts.AllowNegative {
				flag("negative-balance", fmt.Sprintf("%s ends with %s = %d\n", n.Node(), a, b))
			}
		}
		if sum != opts.Total {
			flag("wrong-total", fmt.Sprintf("%s ends with balances totalling %d, not %d\n", n.Node(), sum, opts.Total))
		}
	}
	v.Checked["nodes"] = len(nodes)
	classes := make([]string, 0, len(found))
	for c := range found {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	for _, c := range classes {
		v.Add(c, found[c].n, found[c].ws, opts.MaxWitnesses)
	}
	return v, nil
}

func allReads(o *history.Op) bool {
	for _, m := range o.Mops {
		if m.F != history.Read {
			return false
		}
	}
	return true
}
