package main

import (
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// writeTable draws a table exactly as etcdctl does with its table library
// (github.com/olekukonko/tablewriter v0.0.5, default settings, rows aligned right):
//
//	+------------------+---------+
//	|        ID        | STATUS  |
//	+------------------+---------+
//	| 8e9e05c52164694d | started |
//	+------------------+---------+
//
// Headers are upper-cased and centred (an odd space goes right); cells longer than 30
// characters are wrapped at spaces into as few, as even lines as possible; a row is as tall
// as its tallest cell.
func writeTable(w io.Writer, hdr []string, rows [][]string) error {
	t := newTable(len(hdr))
	head := make([][]string, len(hdr))
	for i, h := range hdr {
		head[i] = t.cell(h, i)
	}
	body := make([][][]string, len(rows))
	for r, row := range rows {
		body[r] = make([][]string, len(hdr))
		for i := range hdr {
			v := ""
			if i < len(row) {
				v = row[i]
			}
			body[r][i] = t.cell(v, i)
		}
	}

	var sb strings.Builder
	t.line(&sb)
	for x := range height(head) {
		sb.WriteString("|")
		for i, lines := range head {
			h := ""
			if x < len(lines) {
				h = headerTitle(lines[x])
			}
			sb.WriteString(" " + padCenter(h, t.widths[i]) + " |")
		}
		sb.WriteString("\n")
	}
	t.line(&sb)
	for _, row := range body {
		n := height(row)
		for x := range n {
			sb.WriteString("|")
			for i, lines := range row {
				v := "  " // what the library pads short cells with
				if x < len(lines) {
					v = lines[x]
				}
				sb.WriteString(" " + padLeft(v, t.widths[i]) + " |")
			}
			sb.WriteString("\n")
		}
	}
	t.line(&sb)
	_, err := io.WriteString(w, sb.String())
	return err
}

// maxCellWidth is where cells wrap.
const maxCellWidth = 30

type table struct{ widths []int }

func newTable(cols int) *table { return &table{widths: make([]int, cols)} }

// cell splits a cell into its lines (wrapping long ones) and widens its column to fit.
func (t *table) cell(s string, col int) []string {
	raw := strings.Split(s, "\n")
	width := 0
	for _, l := range raw {
		width = max(width, textWidth(l))
	}
	width = min(width, maxCellWidth)
	newWidth := width
	var lines []string
	for i, para := range raw {
		wrapped := wrapString(para, width)
		for _, l := range wrapped {
			newWidth = max(newWidth, textWidth(l))
		}
		if i > 0 {
			lines = append(lines, " ")
		}
		lines = append(lines, wrapped...)
	}
	t.widths[col] = max(t.widths[col], newWidth)
	return lines
}

func (t *table) line(sb *strings.Builder) {
	sb.WriteString("+")
	for _, w := range t.widths {
		sb.WriteString(strings.Repeat("-", w+2) + "+")
	}
	sb.WriteString("\n")
}

func height(cells [][]string) int {
	n := 0
	for _, c := range cells {
		n = max(n, len(c))
	}
	return n
}

// textWidth is the number of columns a string takes (one per rune).
func textWidth(s string) int { return utf8.RuneCountInString(s) }

func padCenter(s string, width int) string {
	gap := width - textWidth(s)
	if gap <= 0 {
		return s
	}
	left := gap / 2
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", gap-left)
}

func padLeft(s string, width int) string {
	gap := width - textWidth(s)
	if gap <= 0 {
		return s
	}
	return strings.Repeat(" ", gap) + s
}

// headerTitle formats a header as the library does: underscores, and dots that are not
// part of a number, become spaces; the result is trimmed and upper-cased.
func headerTitle(name string) string {
	orig := len(name)
	rs := []rune(name)
	numOrSpace := func(r rune) bool { return r >= '0' && r <= '9' || r == ' ' }
	for i, r := range rs {
		switch r {
		case '_':
			rs[i] = ' '
		case '.':
			if (i != 0 && !numOrSpace(rs[i-1])) || (i != len(rs)-1 && !numOrSpace(rs[i+1])) {
				rs[i] = ' '
			}
		}
	}
	name = strings.TrimSpace(string(rs))
	if name == "" && orig > 0 {
		name = " "
	}
	return strings.ToUpper(name)
}

// wrapString breaks s at spaces into lines of at most lim columns (more when one word is
// longer), choosing the breaks that make the lines most even.
func wrapString(s string, lim int) []string {
	words := strings.Split(s, " ")
	for _, w := range words {
		lim = max(lim, textWidth(w))
	}
	var lines []string
	for _, ws := range wrapWords(words, 1, lim, 100000) {
		lines = append(lines, strings.Join(ws, " "))
	}
	return lines
}

// wrapWords splits words into lines of at most lim columns (words joined by spc columns)
// minimising the sum of the squares of each line's slack, but the last one's; a line over
// lim costs pen more.
func wrapWords(words []string, spc, lim, pen int) [][]string {
	n := len(words)
	length := make([][]int, n)
	for i := range n {
		length[i] = make([]int, n)
		length[i][i] = textWidth(words[i])
		for j := i + 1; j < n; j++ {
			length[i][j] = length[i][j-1] + spc + textWidth(words[j])
		}
	}
	next := make([]int, n)
	cost := make([]int, n)
	for i := range cost {
		cost[i] = math.MaxInt32
	}
	for i := n - 1; i >= 0; i-- {
		if length[i][n-1] <= lim {
			cost[i], next[i] = 0, n
			continue
		}
		for j := i + 1; j < n; j++ {
			d := lim - length[i][j-1]
			c := d*d + cost[j]
			if length[i][j-1] > lim {
				c += pen
			}
			if c < cost[i] {
				cost[i], next[i] = c, j
			}
		}
	}
	var lines [][]string
	for i := 0; i < n; i = next[i] {
		lines = append(lines, words[i:next[i]])
	}
	return lines
}
