package filestore

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/filestore/filestoretest"
)

// The S3 store is tested against a real S3-compatible server: SeaweedFS
// (`weed server -s3`), built by .ci/run from its Go module and named by
// SERVICEDESK_TEST_WEED. Without it the test skips, unless CI=true or
// SERVICEDESK_TEST_S3=1 require it.
const (
	testAccessKey = "deskaccess"
	testSecretKey = "desk-secret-key-for-tests"
)

func TestS3(t *testing.T) {
	endpoint := weedServer(t)
	s, err := OpenS3(t.Context(), S3Config{Endpoint: endpoint, Bucket: "desk-test", AccessKey: testAccessKey, SecretKey: testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	filestoretest.Run(t, s)

	// The bucket is made once; a second node opening it finds it.
	if _, err := OpenS3(t.Context(), S3Config{Endpoint: endpoint, Bucket: "desk-test", AccessKey: testAccessKey, SecretKey: testSecretKey}); err != nil {
		t.Errorf("opening an existing bucket: %v", err)
	}
	// Wrong credentials are refused, as unavailable (the operator's to fix).
	if _, err := OpenS3(t.Context(), S3Config{Endpoint: endpoint, Bucket: "desk-test", AccessKey: testAccessKey, SecretKey: "wrong"}); desk.ErrorCode(err) != desk.EUnavailable {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := OpenS3(t.Context(), S3Config{Endpoint: "ftp://x", Bucket: "b"}); err == nil {
		t.Error("an ftp endpoint was taken")
	}
}

// weedServer starts SeaweedFS with S3 on free loopback ports for this test
// and returns its S3 endpoint.
func weedServer(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SERVICEDESK_TEST_WEED")
	if bin == "" {
		bin, _ = exec.LookPath("weed")
	}
	if bin == "" {
		if os.Getenv("CI") == "true" || os.Getenv("SERVICEDESK_TEST_S3") == "1" {
			t.Fatal("SERVICEDESK_TEST_WEED is not set and weed is not on PATH; .ci/run builds it")
		}
		t.Skip("no SeaweedFS binary: set SERVICEDESK_TEST_WEED (see .ci/run)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "s3.json")
	os.WriteFile(conf, []byte(fmt.Sprintf(`{"identities":[{"name":"desk","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`,
		testAccessKey, testSecretKey)), 0o600)
	ports := freePorts(t, 4) // master, volume, filer, s3; each also uses port+10000 for gRPC
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "-dir="+dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		fmt.Sprintf("-master.port=%d", ports[0]), fmt.Sprintf("-volume.port=%d", ports[1]),
		fmt.Sprintf("-filer.port=%d", ports[2]), "-s3", fmt.Sprintf("-s3.port=%d", ports[3]), "-s3.config="+conf,
		"-master.volumeSizeLimitMB=64", "-volume.max=8")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", ports[3])
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := http.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			// 403 for an unsigned request: S3 is up and checks credentials.
			if resp.StatusCode == http.StatusForbidden {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("weed exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("weed's S3 did not come up in 90 s:\n%s", log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The S3 gateway answers before the filer has volumes to write to:
	// wait until a bucket can really be written.
	for {
		s, err := OpenS3(t.Context(), S3Config{Endpoint: endpoint, Bucket: "probe", AccessKey: testAccessKey, SecretKey: testSecretKey})
		if err == nil {
			if err = s.Put(t.Context(), "probe", strings.NewReader("x"), 1, "text/plain"); err == nil {
				return endpoint
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("weed's S3 takes no writes: %v\n%s", err, log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// freePorts finds n loopback ports that are free, and whose +10000 (where
// SeaweedFS puts gRPC) are free too.
func freePorts(t *testing.T, n int) []int {
	var out []int
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if p+10000 > 65535 {
			continue
		}
		if ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000)); err == nil {
			ln2.Close()
			out = append(out, p)
		}
	}
	return out
}
