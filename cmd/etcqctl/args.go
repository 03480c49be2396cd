package main

import (
	"regexp"
	"strconv"
)

// argPattern matches one argument of a line typed to txn or watch -i: a double-quoted
// string (with backslash escapes), a single-quoted string, or a run of non-space
// characters.
var argPattern = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?`)

// argify splits a line into arguments as etcdctl does: quotes group words and are removed;
// double-quoted strings are unescaped as Go strings.
func argify(line string) ([]string, error) {
	args := argPattern.FindAllString(line, -1)
	for i, a := range args {
		switch {
		case len(a) >= 2 && a[0] == '\'':
			args[i] = a[1 : len(a)-1]
		case len(a) >= 2 && a[0] == '"':
			s, err := strconv.Unquote(a)
			if err != nil {
				return nil, err
			}
			args[i] = s
		}
	}
	return args, nil
}
