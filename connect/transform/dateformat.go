package transform

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// simpleDateFormat is a compiled java.text.SimpleDateFormat pattern, for
// formatting only (TimestampRouter's timestamp.format).
//
//	letters    G era, y year, M month, d day, H/k/K/h hour, m minute,
//	           s second, S millisecond, E day name, a AM/PM, D day of year,
//	           u day of week (1=Monday), Z/X/z zone (always UTC here)
//	'text'     literal text; '' is a quote
//	other      copied
//
// Repeated letters set the width (numbers are zero-padded to it) or, for
// M and E, the style: MMM "Jan", MMMM "January", E…EEE "Mon", EEEE
// "Monday". yy is the year modulo 100.
type simpleDateFormat []dateFormatToken

type dateFormatToken struct {
	letter byte // 0 for literal text
	count  int
	text   string
}

func parseSimpleDateFormat(p string) (simpleDateFormat, error) {
	var out simpleDateFormat
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				out = append(out, dateFormatToken{text: "'"})
				i += 2
				continue
			}
			end := strings.IndexByte(p[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("Unterminated quote")
			}
			out = append(out, dateFormatToken{text: p[i+1 : i+1+end]})
			i += end + 2
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !strings.ContainsRune("GyYMLdHkKhmsSEaDuZXzwWF", rune(c)) {
				return nil, fmt.Errorf("Illegal pattern character '%c'", c)
			}
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			out = append(out, dateFormatToken{letter: c, count: n})
			i += n
		default:
			out = append(out, dateFormatToken{text: string(c)})
			i++
		}
	}
	return out, nil
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func (f simpleDateFormat) format(t time.Time) string {
	var b strings.Builder
	for _, tok := range f {
		if tok.letter == 0 {
			b.WriteString(tok.text)
			continue
		}
		n := tok.count
		switch tok.letter {
		case 'G':
			if t.Year() > 0 {
				b.WriteString("AD")
			} else {
				b.WriteString("BC")
			}
		case 'y', 'Y':
			if n == 2 {
				b.WriteString(pad(t.Year()%100, 2))
			} else {
				b.WriteString(pad(t.Year(), n))
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(pad(int(t.Month()), n))
			}
		case 'd':
			b.WriteString(pad(t.Day(), n))
		case 'D':
			b.WriteString(pad(t.YearDay(), n))
		case 'H':
			b.WriteString(pad(t.Hour(), n))
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b.WriteString(pad(h, n))
		case 'K':
			b.WriteString(pad(t.Hour()%12, n))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, n))
		case 'm':
			b.WriteString(pad(t.Minute(), n))
		case 's':
			b.WriteString(pad(t.Second(), n))
		case 'S':
			b.WriteString(pad(t.Nanosecond()/int(time.Millisecond), n))
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(pad(wd, n))
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'Z':
			b.WriteString("+0000")
		case 'X':
			b.WriteString("Z")
		case 'z':
			if n >= 4 {
				b.WriteString("Coordinated Universal Time")
			} else {
				b.WriteString("UTC")
			}
		case 'w':
			_, wk := t.ISOWeek()
			b.WriteString(pad(wk, n))
		case 'W':
			b.WriteString(pad((t.Day()-1)/7+1, n))
		case 'F':
			b.WriteString(pad((t.Day()-1)/7+1, n))
		}
	}
	return b.String()
}
