// Package yamlstrict decodes the project's small YAML files (target files, proxy configs)
// strictly: an unknown field, a wrong type or a malformed value is one line of the form
// "FILE:LINE: message", and an unknown field's message lists the fields accepted there,
// read from the yaml tags of the destination type. yaml.v3's own errors span several lines
// and name Go types, which is no help to someone editing a file.
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes data into v (a pointer), refusing unknown fields. file names the source in
// errors. An empty document is an error too: every file this package reads has fields.
func Decode(file string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty file", file)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		fields := tagsByType(reflect.TypeOf(v))
		parts := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			parts = append(parts, rewrite(file, e, fields))
		}
		return errors.New(strings.Join(parts, "; "))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, body, ok := strings.Cut(rest, ": "); ok {
			return fmt.Errorf("%s:%s: %s", file, num, oneLine(body))
		}
	}
	return fmt.Errorf("%s: %s", file, oneLine(msg))
}

// rewrite turns "line 7: field foo not found in type pkg.T" into
// `FILE:7: unknown field "foo" (accepted: a, b)`.
func rewrite(file, msg string, fields map[string][]string) string {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return file + ": " + oneLine(msg)
	}
	num, body, _ := strings.Cut(rest, ": ")
	if f, typ, ok := strings.Cut(strings.TrimPrefix(body, "field "), " not found in type "); ok && strings.HasPrefix(body, "field ") {
		body = fmt.Sprintf("unknown field %q (accepted: %s)", f, strings.Join(fields[typ], ", "))
	}
	return fmt.Sprintf("%s:%s: %s", file, num, oneLine(body))
}

// tagsByType maps every struct type reachable from t ("pkg.Name", as yaml.v3 names them)
// to its YAML field names.
func tagsByType(t reflect.Type) map[string][]string {
	out := map[string][]string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || out[t.String()] != nil {
			return
		}
		out[t.String()] = []string{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			out[t.String()] = append(out[t.String()], name)
			walk(f.Type)
		}
	}
	walk(t)
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
