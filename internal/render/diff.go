package render

import (
	"encoding"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
)

// changed returns the YAML keys of v whose values differ from def's (both
// structs of the same type), in field order: a rendered config holds what
// the fleet chose and leaves the rest to the program's defaults, so a
// later release's better default reaches every node. Nil and empty lists
// differ (an empty list clears a catalog list); pointers to structs and
// lists of structs are compared field by field against their zero values.
func changed(v, def reflect.Value) yaml.MapSlice {
	out := yaml.MapSlice{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "-" {
			continue
		}
		fv, dv := v.Field(i), def.Field(i)
		if key == "" && f.Anonymous {
			out = append(out, changed(fv, dv)...)
			continue
		}
		if reflect.DeepEqual(fv.Interface(), dv.Interface()) {
			continue
		}
		out = append(out, yaml.MapItem{Key: key, Value: value(fv, dv)})
	}
	return out
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// value is what to write for a field that differs from its default.
func value(fv, dv reflect.Value) any {
	switch {
	case fv.Type().Implements(textMarshaler):
		return fv.Interface()
	case fv.Kind() == reflect.Struct:
		return changed(fv, dv)
	case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct && !fv.IsNil():
		return changed(fv.Elem(), reflect.Zero(fv.Type().Elem()))
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct && !fv.IsNil():
		list := make([]any, fv.Len())
		zero := reflect.Zero(fv.Type().Elem())
		for i := range list {
			list[i] = changed(fv.Index(i), zero)
		}
		return list
	}
	return fv.Interface()
}
