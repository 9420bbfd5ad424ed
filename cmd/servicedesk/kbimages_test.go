package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestKBPictures: an agent's upload named in an article as
// ![…](attachment:at_…) becomes the article's; whoever may read the
// article gets a signed URL for it, and nobody gets one for an unpublished
// article's picture, or can show an employee's upload by naming it.
func TestKBPictures(t *testing.T) {
	databases(t, []string{"--dev"}, testKBPictures)
}

func testKBPictures(t *testing.T, a *app) {
	admin, _ := a.loginAgent("demo", "demo")
	emp := a.employee("zhangsan")

	status, up := a.upload(admin, "vpn-settings.png", screenshotPNG(t))
	if status != http.StatusCreated || up["url"] == "" {
		t.Fatalf("upload: %d %v (the uploader gets a URL to preview it)", status, up)
	}
	pic, _ := up["id"].(string)
	body := "打开设置，如图：\n\n![VPN 设置](attachment:" + pic + ")"
	id := kbPublish(t, a, admin, "VPN 设置在哪里", "network", body, true)

	status, art := a.getJSON("/api/kb/articles/"+id, emp)
	images, _ := art["images"].(map[string]any)
	url, _ := images[pic].(string)
	if status != http.StatusOK || url == "" {
		t.Fatalf("the employee's article: %d %v, want a signed URL for %s", status, art, pic)
	}
	resp, err := http.Get(a.url + url)
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || len(png) == 0 {
		t.Fatalf("the picture: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// A draft's pictures reach nobody but agents: the employee cannot read it.
	_, up2 := a.upload(admin, "draft.png", screenshotPNG(t))
	draft := kbPublish(t, a, admin, "草稿", "network", "![x](attachment:"+up2["id"].(string)+")", false)
	if status, _ := a.getJSON("/api/kb/articles/"+draft, emp); status != http.StatusNotFound {
		t.Fatalf("an employee reading a draft: %d", status)
	}

	// An employee's upload cannot be shown by naming it in an article.
	_, theirs := a.upload(emp, "my-screen.png", screenshotPNG(t))
	status, m := a.post("/api/kb/articles", admin, map[string]any{"title": "偷图", "category": "network",
		"body": "![x](attachment:" + theirs["id"].(string) + ")", "tags": []string{}})
	if status != http.StatusBadRequest || !strings.Contains(m["error"].(map[string]any)["message"].(string), "knowledge base") {
		t.Fatalf("naming an employee's upload: %d %v", status, m)
	}
}
