package prototest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ParamCase is one setting of parameters and what resolving it must give. Tables of these
// are how every package states its parameter ranges and cross-parameter rules, so a range
// test reads as the list of MySQL's or Galera's documented bounds and nothing else.
type ParamCase struct {
	User map[string]string
	Want string // "": the setting is accepted; otherwise a substring of the refusal
}

// Param is the ParamCase that sets one parameter, the common shape of a range test.
func Param(name, value, want string) ParamCase {
	return ParamCase{User: map[string]string{name: value}, Want: want}
}

// CheckParams resolves every case with resolve (a Protocol's Resolve, or protocols.Resolve
// over a package's definitions) and joins one error per case whose outcome differs, naming
// the setting, so one run reports every wrong bound rather than the first.
func CheckParams[T any](resolve func(map[string]string) (T, error), cases ...ParamCase) error {
	var errs []error
	for _, tc := range cases {
		_, err := resolve(tc.User)
		switch {
		case tc.Want == "" && err != nil:
			errs = append(errs, fmt.Errorf("%s: unexpected error %v", setting(tc.User), err))
		case tc.Want != "" && (err == nil || !strings.Contains(err.Error(), tc.Want)):
			errs = append(errs, fmt.Errorf("%s: error %v, want one containing %q", setting(tc.User), err, tc.Want))
		}
	}
	return errors.Join(errs...)
}

// setting prints a parameter map as name=value pairs in name order.
func setting(user map[string]string) string {
	if len(user) == 0 {
		return "defaults"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(user)) {
		parts = append(parts, k+"="+user[k])
	}
	return strings.Join(parts, " ")
}
