package wecom

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Member statuses of /cgi-bin/user/get.
const (
	MemberActive   = 1 // 已激活
	MemberDisabled = 2 // 已禁用
	MemberInactive = 4 // 未激活
	MemberLeft     = 5 // 退出企业
)

// User is the part of a member's profile the desk shows (读取成员). Since
// June 2022 a self-built app no longer receives avatar, mobile or email
// here, so the desk asks for none of them.
type User struct {
	UserID         string  `json:"userid"`
	Name           string  `json:"name"`
	Department     []int64 `json:"department"`
	MainDepartment int64   `json:"main_department"`
	Position       string  `json:"position"`
	Status         int     `json:"status"`
}

// User fetches a member's profile (GET /cgi-bin/user/get). A member outside
// the app's visible range is a *ConfigError (60011).
func (c *Client) User(ctx context.Context, userID string) (User, error) {
	if userID == "" {
		return User{}, desk.Errorf(desk.EInvalid, "a WeCom userid is required")
	}
	var u User
	if err := c.call(ctx, http.MethodGet, "/cgi-bin/user/get", url.Values{"userid": {userID}}, nil, &u); err != nil {
		return User{}, err
	}
	return u, nil
}

// Department is one department (获取单个部门详情).
type Department struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	NameEn   string `json:"name_en"`
	ParentID int64  `json:"parentid"`
	Order    int64  `json:"order"`
}

// maxDepartmentDepth is WeCom's limit of department levels (15), plus the
// root.
const maxDepartmentDepth = 16

// Department returns a department (GET /cgi-bin/department/get?id=), from
// the cache when it is younger than DepartmentTTL.
func (c *Client) Department(ctx context.Context, id int64) (Department, error) {
	if d, ok := c.depts.get(id); ok {
		return d, nil
	}
	var out struct {
		Department Department `json:"department"`
	}
	err := c.call(ctx, http.MethodGet, "/cgi-bin/department/get", url.Values{"id": {strconv.FormatInt(id, 10)}}, nil, &out)
	if err != nil {
		return Department{}, err
	}
	c.depts.put(out.Department)
	return out.Department, nil
}

// DepartmentPath returns the departments from the top one the app may see
// down to id, for "公司 / 市场中心 / 华东销售部" beside a conversation. It
// stops at the root or at the first ancestor outside the app's visible
// range, whose name the app may not read.
func (c *Client) DepartmentPath(ctx context.Context, id int64) ([]Department, error) {
	var path []Department
	for i := 0; id != 0 && i < maxDepartmentDepth; i++ {
		d, err := c.Department(ctx, id)
		if err != nil {
			if _, ok := AsConfigError(err); ok && len(path) > 0 {
				break // an ancestor outside the visible range
			}
			return nil, err
		}
		path = append(path, d)
		id = d.ParentID
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, nil
}

// deptCache keeps departments for a while; names change rarely and the
// console asks for the same few all day.
type deptCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[int64]deptEntry
}

type deptEntry struct {
	d       Department
	expires time.Time
}

func newDeptCache(ttl time.Duration, now func() time.Time) *deptCache {
	return &deptCache{ttl: ttl, now: now, m: map[int64]deptEntry{}}
}

func (c *deptCache) get(id int64) (Department, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || !c.now().Before(e.expires) {
		return Department{}, false
	}
	return e.d, true
}

func (c *deptCache) put(d Department) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[d.ID] = deptEntry{d: d, expires: c.now().Add(c.ttl)}
}
