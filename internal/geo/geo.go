// Package geo places nodes on the map: the continent of an ISO 3166
// country code and the great-circle distance between two points. Fleet
// checks and placement use it to spread projects across regions.
package geo

import (
	"math"
	"strings"
)

// Continent codes as GeoNames and the GeoIP databases use them.
const (
	Africa       = "AF"
	Antarctica   = "AN"
	Asia         = "AS"
	Europe       = "EU"
	NorthAmerica = "NA"
	Oceania      = "OC"
	SouthAmerica = "SA"
)

// continents lists each continent's ISO 3166-1 alpha-2 codes (GeoNames'
// assignment: Cyprus in Europe, Turkey and the Caucasus in Asia).
var continents = map[string]string{
	Africa: "DZ AO BJ BW BF BI CV CM CF TD KM CD CG CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML MR MU YT " +
		"MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW",
	Antarctica: "AQ BV GS HM TF",
	Asia: "AF AM AZ BH BD BT IO BN KH CN CX CC GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY MV MN MM NP KP OM PK PS " +
		"PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE",
	Europe: "AX AL AD AT BY BE BA BG HR CY CZ DK EE FO FI FR DE GI GR GG VA HU IS IE IM IT JE XK LV LI LT LU MT MD MC " +
		"ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB",
	NorthAmerica: "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS NI PA PR BL KN LC " +
		"MF PM VC SX TT TC US VI",
	Oceania:      "AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU WF UM",
	SouthAmerica: "AR BO BR CL CO EC FK GF GY PY PE SR UY VE",
}

// continentOf is the inverse of continents, built once; read-only after.
var continentOf = func() map[string]string {
	m := map[string]string{}
	for cont, codes := range continents {
		for _, cc := range strings.Fields(codes) {
			m[cc] = cont
		}
	}
	return m
}()

// Continent returns the continent code of an ISO 3166-1 alpha-2 country
// code (any case); ok is false for an unknown code.
func Continent(country string) (string, bool) {
	c, ok := continentOf[strings.ToUpper(country)]
	return c, ok
}

// Point is a position in degrees.
type Point struct {
	Lat, Lon float64
}

// Valid reports whether the point lies on the globe.
func (p Point) Valid() bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180 && !math.IsNaN(p.Lat) && !math.IsNaN(p.Lon)
}

const earthRadiusKM = 6371.0

// DistanceKM is the great-circle (haversine) distance between two points.
func DistanceKM(a, b Point) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKM * math.Asin(math.Min(1, math.Sqrt(h)))
}
