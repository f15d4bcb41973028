package fn

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxRefusalBytes bounds a refusal's message: a condition's message and an
// event's (which Kubernetes cuts at 1 KiB for its note, 32 KiB for a
// condition) stay readable.
const maxRefusalBytes = 4096

// credentialsRE finds the user information of a URL, with a scheme or
// without one (Go's url.Parse reads "//user@host" too): what a claim must
// never have put there, and no message may repeat. It runs to the last "@"
// of the authority, as url.Parse does, since a user may hold "@" and "'".
var credentialsRE = regexp.MustCompile(`(?i)((?:[a-z][a-z0-9+.-]*:)?//)[^/\s"]*@`)

// redactURLs replaces the credentials of every URL in a message.
func redactURLs(msg string) string { return credentialsRE.ReplaceAllString(msg, "${1}<redacted>@") }

// indexRE finds a list index in a field path: services[12].
var indexRE = regexp.MustCompile(`\[(\d+)\]`)

// refusal says every error once: errors that differ only in a list index
// (the same wrong value in 256 services) are one line naming the indices,
// and the whole stays within maxRefusalBytes, saying how many it left out.
func refusal(errs field.ErrorList) string {
	type group struct {
		path    string
		indices []int
		err     *field.Error
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, e := range errs {
		path := e.Field
		var index = -1
		if m := indexRE.FindStringSubmatchIndex(path); m != nil {
			index, _ = strconv.Atoi(path[m[2]:m[3]])
			path = path[:m[0]] + "[*]" + path[m[1]:]
		}
		key := path + "\x00" + string(e.Type) + "\x00" + fmt.Sprint(e.BadValue) + "\x00" + e.Detail
		g := byKey[key]
		if g == nil {
			g = &group{path: path, err: e}
			byKey[key] = g
			groups = append(groups, g)
		}
		if index >= 0 {
			g.indices = append(g.indices, index)
		}
	}
	var b strings.Builder
	b.WriteString("invalid RestateStack: ")
	for i, g := range groups {
		line := redactURLs(g.err.Error())
		if len(g.indices) > 1 {
			e := *g.err
			e.Field = strings.Replace(g.path, "[*]", "["+ranges(g.indices)+"]", 1)
			line = redactURLs(e.Error())
		}
		if i > 0 {
			line = "; " + line
		}
		if b.Len()+len(line) > maxRefusalBytes {
			fmt.Fprintf(&b, "; and %d more", len(groups)-i)
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// ranges writes sorted indices as 0-3,7,9-12.
func ranges(ix []int) string {
	var parts []string
	for i := 0; i < len(ix); {
		j := i
		for j+1 < len(ix) && ix[j+1] == ix[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", ix[i], ix[j]))
		} else {
			parts = append(parts, strconv.Itoa(ix[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
