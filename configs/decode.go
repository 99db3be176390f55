package configs

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// shapeError refuses a list or mapping where one value belongs.
func shapeError(v reflect.Value) *valueError {
	got := "a list"
	if v.Kind() == reflect.Map {
		got = "a mapping"
	}
	return &valueError{"expected a single value, got " + got, "see configs/example.yaml"}
}

// valueError is a decode hook's complaint about one value; mapstructure wraps
// it with the key's name.
type valueError struct{ problem, fix string }

func (e *valueError) Error() string { return e.problem + "; " + e.fix }

const durationFix = "write a whole number and a unit: min, h, d, w, mo or y (e.g. 7d, 13mo, 1y6mo)"

// decodeHook converts strings (from YAML or the environment) into calendar
// Durations, time.Durations, string lists, numbers and booleans. Decoding is
// otherwise strict (no weak typing): 5432.5 is not a port and 1 is not true.
func decodeHook() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(calendarHook, timeHook, listHook, scalarHook)
}

// scalarHook accepts, for a number, an integer or a decimal string (the
// environment gives strings); for a boolean, true/false or "true"/"false";
// for a string, a string or an integer (level: 19).
func scalarHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	v := reflect.ValueOf(data)
	if !v.IsValid() {
		return data, nil
	}
	switch to.Kind() {
	case reflect.Int:
		const fix = "write a whole number such as 5432"
		switch {
		case v.CanInt():
			return v.Int(), nil
		case v.CanUint() && v.Uint() <= 1<<31:
			return int64(v.Uint()), nil
		case v.Kind() == reflect.String:
			n, err := strconv.Atoi(v.String())
			if err != nil {
				return nil, &valueError{quote(v.String()) + " is not a whole number", fix}
			}
			return n, nil
		}
		return nil, &valueError{quote(fmt.Sprint(data)) + " is not a whole number", fix}
	case reflect.Bool:
		const fix = "write true or false"
		switch {
		case v.Kind() == reflect.Bool:
			return data, nil
		case v.Kind() == reflect.String && (v.String() == "true" || v.String() == "false"):
			return v.String() == "true", nil
		}
		return nil, &valueError{quote(fmt.Sprint(data)) + " is not true or false", fix}
	case reflect.String:
		switch {
		case v.Kind() == reflect.String:
			return data, nil
		case v.CanInt():
			return strconv.FormatInt(v.Int(), 10), nil
		case v.CanUint():
			return strconv.FormatUint(v.Uint(), 10), nil
		case v.Kind() == reflect.Map, v.Kind() == reflect.Slice:
			return nil, shapeError(v)
		}
		return nil, &valueError{quote(fmt.Sprint(data)) + " is not text", "quote the value"}
	}
	return data, nil
}

func calendarHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[Duration]() {
		return data, nil
	}
	switch v := data.(type) {
	case Duration:
		return v, nil
	case string:
		d, err := ParseDuration(v)
		if err != nil {
			reason := strings.TrimPrefix(err.Error(), fmt.Sprintf("parsing duration %q: ", v))
			return nil, &valueError{quote(v) + " is not a calendar duration: " + reason, durationFix}
		}
		return d, nil
	}
	if v := reflect.ValueOf(data); v.Kind() == reflect.Map || v.Kind() == reflect.Slice {
		return nil, shapeError(v)
	}
	return nil, &valueError{fmt.Sprintf("%s is not a calendar duration: no unit", quote(fmt.Sprint(data))), durationFix}
}

func timeHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	const fix = "write a number and a unit: s, m or h (e.g. 0s, 90s, 5m)"
	switch v := data.(type) {
	case time.Duration:
		return v, nil
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, &valueError{fmt.Sprintf("%s is not a duration", quote(v)), fix}
		}
		return d, nil
	case int, int64, uint64, float64:
		if fmt.Sprint(v) == "0" {
			return time.Duration(0), nil
		}
	}
	return nil, &valueError{fmt.Sprintf("%s has no unit", quote(fmt.Sprint(data))), fix}
}

// listHook splits a comma-separated string, as environment variables give
// lists (PGTIER_POSTGRES_DATABASES="app,billing"), trimming spaces.
func listHook(from reflect.Type, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeFor[[]string]() {
		return data, nil
	}
	s, ok := data.(string)
	if !ok {
		return data, nil
	}
	if strings.TrimSpace(s) == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// decodeError turns mapstructure's (possibly joined) decode errors into one
// *Error for the first failing key in Config order.
func decodeError(err error) *Error {
	var found []*mapstructure.DecodeError
	collectDecodeErrors(err, &found)
	if len(found) == 0 {
		return &Error{Problem: "decoding: " + err.Error(), Fix: "see configs/example.yaml", Err: err}
	}
	order := leafKeys()
	rank := func(name string) int {
		for i, k := range order {
			if k == name {
				return i
			}
		}
		return len(order)
	}
	first := found[0]
	for _, d := range found[1:] {
		if rank(d.Name()) < rank(first.Name()) {
			first = d
		}
	}
	e := &Error{Key: first.Name(), Err: err}
	var ve *valueError
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch inner := first.Unwrap(); {
	case errors.As(inner, &ve):
		e.Problem, e.Fix = ve.problem, ve.fix
	case errors.As(inner, &pe):
		e.Problem = fmt.Sprintf("cannot use %s as %s", quote(fmt.Sprint(pe.Value)), describe(pe.Expected.Type()))
		e.Fix = "write " + describe(pe.Expected.Type())
	case errors.As(inner, &ue):
		e.Problem = fmt.Sprintf("cannot use %s as %s", quote(fmt.Sprint(ue.Value)), describe(ue.Expected.Type()))
		e.Fix = "write " + describe(ue.Expected.Type())
	default:
		e.Problem = inner.Error()
		e.Fix = "see configs/example.yaml"
	}
	return e
}

// collectDecodeErrors gathers the innermost DecodeErrors in an error tree.
func collectDecodeErrors(err error, out *[]*mapstructure.DecodeError) {
	switch x := err.(type) { //nolint:errorlint // walks the error tree itself, level by level
	case nil:
		return
	case *mapstructure.DecodeError:
		n := len(*out)
		collectDecodeErrors(x.Unwrap(), out)
		if len(*out) == n {
			*out = append(*out, x)
		}
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			collectDecodeErrors(e, out)
		}
	case interface{ Unwrap() error }:
		collectDecodeErrors(x.Unwrap(), out)
	}
}

// describe names what a key of type t expects, for messages.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a single value"
	case reflect.Slice:
		return `a list of names (e.g. ["*"])`
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	}
	return "a " + t.String()
}

// yamlMessage is the parser's message without viper's wrapping.
func yamlMessage(err error) string {
	var pe viper.ConfigParseError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		err = pe.Unwrap()
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.Contains(msg, "into map[string]interface") {
		return "the top level must be a mapping of keys (key: value), not a list or a single value"
	}
	return msg
}

// shortDuration prints 6h rather than 6h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
