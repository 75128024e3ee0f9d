package geo

import (
	"math"
	"testing"
)

func TestContinent(t *testing.T) {
	for _, tc := range []struct{ cc, want string }{
		{"US", NorthAmerica}, {"de", Europe}, {"JP", Asia}, {"BR", SouthAmerica}, {"ZA", Africa},
		{"AU", Oceania}, {"CY", Europe}, {"TR", Asia}, {"AQ", Antarctica},
	} {
		if got, ok := Continent(tc.cc); !ok || got != tc.want {
			t.Errorf("Continent(%q) = %q, %v; want %q", tc.cc, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "XX", "USA", "u"} {
		if c, ok := Continent(bad); ok {
			t.Errorf("Continent(%q) = %q, want unknown", bad, c)
		}
	}
}

func TestEveryCodeOnce(t *testing.T) {
	seen := map[string]string{}
	n := 0
	for cont, codes := range continents {
		for i := 0; i+2 <= len(codes); i += 3 {
			cc := codes[i : i+2]
			if prev, dup := seen[cc]; dup {
				t.Errorf("%s in %s and %s", cc, prev, cont)
			}
			seen[cc] = cont
			n++
		}
	}
	// ISO 3166-1 has 249 codes; XK (Kosovo) is user-assigned but used by GeoIP.
	if n != 250 {
		t.Errorf("%d country codes, want 250", n)
	}
}

func TestDistance(t *testing.T) {
	seattle, london := Point{47.61, -122.33}, Point{51.51, -0.13}
	if d := DistanceKM(seattle, london); math.Abs(d-7700) > 50 {
		t.Errorf("Seattle-London = %.0f km, want about 7700", d)
	}
	if d := DistanceKM(seattle, seattle); d != 0 {
		t.Errorf("distance to itself = %v", d)
	}
	if d := DistanceKM(Point{0, 179.9}, Point{0, -179.9}); d > 25 {
		t.Errorf("across the date line = %.1f km", d)
	}
	if (Point{91, 0}).Valid() || (Point{0, 181}).Valid() || !(Point{-90, 180}).Valid() {
		t.Error("Valid")
	}
}
