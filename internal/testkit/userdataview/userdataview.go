// Package userdataview reads the user data the function renders for the
// Restate host, the way cloud-init does: gunzip if needed, split the MIME
// parts, and decode each file of the cloud-config. Tests and golden files
// use it to show reviewers what reaches the host.
package userdataview

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// File is one file cloud-init writes on the host.
type File struct {
	Path        string
	Permissions string
	Content     string
}

// View is the decoded user data.
type View struct {
	// MIME is the multipart document, after any gunzip.
	MIME []byte
	// CloudConfig is the raw cloud-config part.
	CloudConfig string
	// Script is the shell script part.
	Script string
	// Files are the cloud-config's write_files, decoded, by path.
	Files map[string]File
	// Compressed says whether the user data was gzipped.
	Compressed bool
}

// Decode reads base64 user data as an instance's userData field holds it.
func Decode(b64 string) (*View, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("user data is not base64: %w", err)
	}
	v := &View{Files: map[string]File{}}
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
		v.Compressed = true
	}
	v.MIME = raw
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("user data is not a MIME document: %w", err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/cloud-config"):
			v.CloudConfig = string(body)
		case strings.HasPrefix(ct, "text/x-shellscript"):
			v.Script = string(body)
		default:
			return nil, fmt.Errorf("unexpected part %q", ct)
		}
	}
	var cc struct {
		WriteFiles []struct {
			Path        string `json:"path"`
			Encoding    string `json:"encoding"`
			Content     string `json:"content"`
			Permissions string `json:"permissions"`
		} `json:"write_files"`
	}
	if err := yaml.Unmarshal([]byte(v.CloudConfig), &cc); err != nil {
		return nil, fmt.Errorf("cloud-config: %w", err)
	}
	for _, f := range cc.WriteFiles {
		if f.Encoding != "b64" {
			return nil, fmt.Errorf("%s: encoding %q, want b64", f.Path, f.Encoding)
		}
		b, err := base64.StdEncoding.DecodeString(f.Content)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		v.Files[f.Path] = File{Path: f.Path, Permissions: f.Permissions, Content: string(b)}
	}
	return v, nil
}

// FilesText lists every file with its permissions and content, by path.
func (v *View) FilesText() string {
	paths := make([]string, 0, len(v.Files))
	for p := range v.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		f := v.Files[p]
		fmt.Fprintf(&b, "==> %s (%s)\n%s\n", f.Path, f.Permissions, f.Content)
	}
	return b.String()
}
