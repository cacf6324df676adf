package promtest

import (
	"sort"
	"strings"
)

// promqlWords are PromQL keywords, aggregation operators and literals: words
// that are never metric names even when no '(' follows them.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true, "bool": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true,
	"stddev": true, "stdvar": true, "count": true, "count_values": true,
	"bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
	"inf": true, "nan": true, "start": true, "end": true,
}

// labelListWords are followed by a parenthesised list of label names.
var labelListWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// MetricNames returns the metric names a PromQL expression selects, sorted
// and without duplicates. It is a small tokenizer, not a parser: it skips
// strings, label matchers {...}, ranges [...], label lists after by,
// without, on, ignoring and group_left/right, numbers and durations,
// keywords, and identifiers followed by '(' (functions). What is left are
// metric names. Run the expression through promtool as well to know it
// parses.
func MetricNames(expr string) []string {
	seen := make(map[string]bool)
	var names []string
	pendingLabelList := false
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '#': // comment to end of line
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '{':
			i = skipTo(expr, i, '}')
		case c == '[':
			i = skipTo(expr, i, ']')
		case c == '(' && pendingLabelList:
			i = skipTo(expr, i, ')')
			pendingLabelList = false
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			// Numbers, hex, exponents and durations such as 1d or 1h30m.
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
			word := expr[start:i]
			lower := strings.ToLower(word)
			if labelListWords[lower] {
				pendingLabelList = true
				continue
			}
			if promqlWords[lower] || nextNonSpace(expr, i) == '(' {
				continue
			}
			if !seen[word] {
				seen[word] = true
				names = append(names, word)
			}
		default:
			i++
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '(' && !isIdentStart(c) {
			pendingLabelList = false
		}
	}
	sort.Strings(names)
	return names
}

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		if s[i] == '\\' && quote != '`' {
			i++
			continue
		}
		if s[i] == quote {
			return i + 1
		}
	}
	return len(s)
}

// skipTo returns the index after the close that ends the group opened at
// i, stepping over strings inside it.
func skipTo(s string, i int, close byte) int {
	open := s[i]
	depth := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(s)
}

func nextNonSpace(s string, i int) byte {
	for ; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }
