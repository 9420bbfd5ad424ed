package staff

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// Categories returns every category, retired ones too: any signed-in user
// may read them, since pages name old conversations by them.
func (s *Service) Categories(ctx context.Context) ([]desk.Category, error) {
	out, err := s.store.Categories(ctx)
	if out == nil {
		out = []desk.Category{}
	}
	return out, err
}

// SaveCategory creates (when the key is new) or replaces a category,
// admins only. A category is never deleted, only retired (Active false),
// so conversations filed under it stay readable and reportable.
func (s *Service) SaveCategory(ctx context.Context, admin desk.Principal, c desk.Category) (desk.Category, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return desk.Category{}, err
	}
	c.Key = strings.TrimSpace(c.Key)
	c.NameZH, c.NameEN, c.Color = strings.TrimSpace(c.NameZH), strings.TrimSpace(c.NameEN), strings.TrimSpace(c.Color)
	switch {
	case !desk.ValidCategoryKey(c.Key):
		return desk.Category{}, desk.Errorf(desk.EInvalid, "a category key is 1 to 32 of a-z, 0-9, - and _")
	case c.NameZH == "" || len([]rune(c.NameZH)) > 40 || len([]rune(c.NameEN)) > 40:
		return desk.Category{}, desk.Errorf(desk.EInvalid, "a category needs a Chinese name of 1 to 40 characters (the English one is at most 40)")
	case c.Color != "" && !colorPattern.MatchString(c.Color):
		return desk.Category{}, desk.Errorf(desk.EInvalid, "colour must be #rrggbb")
	case c.DefaultPriority != "" && !slices.Contains(desk.Priorities, c.DefaultPriority):
		return desk.Category{}, desk.Errorf(desk.EInvalid, "default priority must be one of %s", strings.Join(desk.Priorities, ", "))
	case c.Position < 0 || c.Position > 1000:
		return desk.Category{}, desk.Errorf(desk.EInvalid, "position must be 0 to 1000")
	}
	if c.TeamID != "" {
		if _, err := s.team(ctx, c.TeamID); err != nil {
			return desk.Category{}, desk.Errorf(desk.EInvalid, "%q is not a team", c.TeamID)
		}
	}
	all, err := s.store.Categories(ctx)
	if err != nil {
		return desk.Category{}, err
	}
	var before any
	for _, old := range all {
		if old.Key == c.Key {
			before = old
		}
	}
	if before == nil && len(all) >= 100 {
		return desk.Category{}, desk.Errorf(desk.EInvalid, "a desk has at most 100 categories; retire one instead")
	}
	if err := s.store.SaveCategory(ctx, c); err != nil {
		return desk.Category{}, err
	}
	action := "category.update"
	if before == nil {
		action = "category.create"
	}
	return c, s.audit.Record(ctx, admin, action, c.Key, before, c)
}

func (s *Service) categoryKeys(ctx context.Context) (map[string]bool, error) {
	all, err := s.store.Categories(ctx)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(all))
	for _, c := range all {
		keys[c.Key] = true
	}
	return keys, nil
}
