package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// "loadtest uploads": many phones send a photo at once. Each signs in
// (mock login: the server runs with --dev), opens a conversation, uploads
// the same 12-megapixel JPEG, sends a message carrying it, asks for the
// conversation's file URLs and fetches the thumbnail. It reports the
// upload throughput, the time from each upload's start to its thumbnail
// on screen, and the server's resident memory before and at its peak:
// uploads are streamed to disk, so memory must not grow by the files'
// total size.

type uploadConfig struct {
	url     string
	phones  int
	mib     float64
	pid     int
	timeout time.Duration
}

func parseUploadConfig(args []string, stderr io.Writer) (uploadConfig, error) {
	var c uploadConfig
	fs := flag.NewFlagSet("loadtest uploads", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest uploads [flags]   (against a server started with --dev)")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8000", "server base URL")
	fs.IntVar(&c.phones, "phones", 50, "employees uploading a photo at the same moment")
	fs.Float64Var(&c.mib, "mib", 10, "size of the photo in MiB (a 4032×3024 JPEG whose noise is tuned to it)")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for its resident memory; 0 skips")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "limit for one phone's whole round")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return c, fmt.Errorf("--url must be http(s)://host:port")
	}
	if c.phones < 1 || c.mib <= 0 {
		return c, fmt.Errorf("--phones and --mib must be positive")
	}
	return c, nil
}

// photo makes a 4032×3024 JPEG of about mib MiB: a gradient with noise,
// the noise raised until the file is large enough (a sensor's noise is
// what makes real photos big).
func photo(mib float64) []byte {
	const w, h = 4032, 3024
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	want := int(mib * (1 << 20))
	rng := rand.New(rand.NewPCG(1, 2))
	for amp := 8; ; amp += 8 {
		for y := range h {
			for x := range w {
				v := int(uint8(x*255/w)) + rng.IntN(2*amp+1) - amp
				img.Y[y*img.YStride+x] = uint8(max(0, min(255, v)))
			}
		}
		for i := range img.Cb {
			img.Cb[i], img.Cr[i] = uint8(100+rng.IntN(amp/2+1)), uint8(140+rng.IntN(amp/2+1))
		}
		var b bytes.Buffer
		jpeg.Encode(&b, img, &jpeg.Options{Quality: 92})
		if b.Len() >= want || amp >= 128 {
			return b.Bytes()
		}
	}
}

type phoneResult struct {
	upload    time.Duration // start of upload → 201 (stored, thumbnail made)
	thumbnail time.Duration // start of upload → thumbnail bytes received
	err       error
}

func runUploads(ctx context.Context, c uploadConfig, stdout io.Writer) error {
	body := photo(c.mib)
	fmt.Fprintf(stdout, "photo: 4032×3024 JPEG, %.1f MiB; %d phones at once → %.0f MiB in total\n",
		float64(len(body))/(1<<20), c.phones, float64(len(body)*c.phones)/(1<<20))
	hc := &http.Client{Timeout: c.timeout, Transport: &http.Transport{MaxIdleConnsPerHost: c.phones * 2}}
	api := func(ctx context.Context, method, path, token string, in, out any) error {
		var r io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, c.url+path, r)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
		}
		if out != nil {
			return json.NewDecoder(resp.Body).Decode(out)
		}
		io.Copy(io.Discard, resp.Body)
		return nil
	}

	// Set up every phone first: sign in, open a conversation.
	type phone struct{ token, conv string }
	phones := make([]phone, c.phones)
	for i := range phones {
		var login struct{ Token string }
		id := fmt.Sprintf("up%04d", i)
		if err := api(ctx, "POST", "/api/h5/mock-login", "", map[string]string{"employee_id": id, "name": "员工 " + id}, &login); err != nil {
			return err
		}
		var conv struct{ ID string }
		if err := api(ctx, "POST", "/api/h5/conversations", login.Token, map[string]string{"subject": "屏幕花屏", "body": "看照片", "client_msg_id": "c-" + id}, &conv); err != nil {
			return err
		}
		phones[i] = phone{login.Token, conv.ID}
	}

	var base int64
	if c.pid > 0 {
		var err error
		if base, err = readRSS(c.pid); err != nil {
			return err
		}
	}
	var peak atomic.Int64
	peak.Store(base)
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() { // the server's memory every 20 ms while the phones upload
		defer close(watched)
		for {
			if c.pid > 0 {
				if kib, err := readRSS(c.pid); err == nil && kib > peak.Load() {
					peak.Store(kib)
				}
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	results := make([]phoneResult, c.phones)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	start := time.Now()
	for i, p := range phones {
		wg.Go(func() {
			<-gate
			ctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			t0 := time.Now()
			req, _ := http.NewRequestWithContext(ctx, "POST", c.url+"/api/uploads?name=IMG_0001.JPG", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+p.token)
			resp, err := hc.Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			var att struct{ ID string }
			json.NewDecoder(resp.Body).Decode(&att)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				results[i].err = fmt.Errorf("upload: %d", resp.StatusCode)
				return
			}
			results[i].upload = time.Since(t0)
			if err := api(ctx, "POST", "/api/conversations/"+p.conv+"/messages", p.token,
				map[string]any{"body": "", "client_msg_id": "m-" + att.ID, "attachments": []string{att.ID}}, nil); err != nil {
				results[i].err = err
				return
			}
			var list struct {
				Attachments []struct {
					ID           string `json:"id"`
					ThumbnailURL string `json:"thumbnail_url"`
				}
			}
			if err := api(ctx, "GET", "/api/conversations/"+p.conv+"/attachments", p.token, nil, &list); err != nil || len(list.Attachments) == 0 {
				results[i].err = fmt.Errorf("list: %v", err)
				return
			}
			if err := api(ctx, "GET", list.Attachments[0].ThumbnailURL, "", nil, nil); err != nil {
				results[i].err = err
				return
			}
			results[i].thumbnail = time.Since(t0)
		})
	}
	close(gate)
	wg.Wait()
	wall := time.Since(start)
	close(stopWatch)
	<-watched

	var ups, thumbs []time.Duration
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			if failed <= 3 {
				fmt.Fprintln(stdout, "  failed:", r.err)
			}
			continue
		}
		ups = append(ups, r.upload)
		thumbs = append(thumbs, r.thumbnail)
	}
	slices.Sort(ups)
	slices.Sort(thumbs)
	fmt.Fprintf(stdout, "done: %d of %d phones in %v (%d failed); throughput %.1f MiB/s\n",
		len(ups), c.phones, wall.Round(time.Millisecond), failed, float64(len(body)*len(ups))/(1<<20)/wall.Seconds())
	if len(ups) > 0 {
		fmt.Fprintf(stdout, "upload → 201 (stored, EXIF stripped, thumbnail made): first %s, p50 %s, p90 %s, last %s\n",
			ms(ups[0]), ms(percentile(ups, 0.5)), ms(percentile(ups, 0.9)), ms(ups[len(ups)-1]))
		fmt.Fprintf(stdout, "upload start → thumbnail received: first %s, p50 %s, p90 %s, last %s\n",
			ms(thumbs[0]), ms(percentile(thumbs, 0.5)), ms(percentile(thumbs, 0.9)), ms(thumbs[len(thumbs)-1]))
	}
	if c.pid > 0 {
		fmt.Fprintf(stdout, "server RSS: %.1f MiB before, %.1f MiB at peak (+%.1f MiB, against %.0f MiB uploaded)\n",
			float64(base)/1024, float64(peak.Load())/1024, float64(peak.Load()-base)/1024, float64(len(body)*len(ups))/(1<<20))
	}
	if failed > 0 {
		return fmt.Errorf("%d uploads failed", failed)
	}
	return nil
}
