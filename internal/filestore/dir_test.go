package filestore

import (
	"testing"

	"github.com/servicedesk/servicedesk/internal/filestore/filestoretest"
)

func TestDir(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	filestoretest.Run(t, d)
}
