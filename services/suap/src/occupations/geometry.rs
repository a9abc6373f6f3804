//! The place of an occupation: a ring of WGS84 lon/lat vertices, checked, measured and
//! turned into the planar polygon the database's conflict rule compares.
//!
//! Two frames, for two jobs:
//!
//! - **Area and lengths** use an ellipsoidal sinusoidal frame centred on the ring itself
//!   (x = (λ−λ₀)·N(φ)·cos φ, y = meridian arc from φ₀): its Jacobian is exactly the WGS84
//!   area element M·N·cos φ, so it is equal-area; with straight edges over at most
//!   [`MAX_EXTENT_M`] the area is within 1e-6 of the geodesic one (tests below).
//! - **The conflict rule** uses one fixed frame for every occupation everywhere, so that any
//!   two shapes are comparable: a spherical sinusoidal projection about 12°E in metres,
//!   x = R·(λ−12°)·cos φ, y = R·φ with R = 6,371,008.8 m (the mean radius). A continuous
//!   one-to-one map preserves whether two shapes overlap; metres (not degrees) because
//!   PostgreSQL's geometric comparisons are fuzzy by an absolute 1e-6.
//!
//! Touching edges: PostgreSQL's `&&` counts polygons that only touch as overlapping, and we
//! want two neighbouring dehors that share an edge both grantable. So the database keeps
//! the ring shrunk inward by [`SHRINK_M`] (1 mm; each edge offset inward, adjacent offset
//! lines intersected): two shapes that share an edge are 2 mm apart there, far above the
//! 1e-6 fuzz, and two shapes that overlap by more than 2 mm still overlap.

use std::f64::consts::PI;

/// A vertex as a map or GeoJSON gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    /// Longitude in degrees, east positive.
    pub lon: f64,
    /// Latitude in degrees, north positive.
    pub lat: f64,
}

/// Edges shorter than this are refused: a digitising slip, not a place.
pub const MIN_EDGE_M: f64 = 0.10;
/// Below this area the shape is "zero area": 1 cm².
pub const MIN_AREA_M2: f64 = 1e-4;
/// A single occupation spans at most this much (a market square, not a district): keeps
/// the local frames' approximations far below the 0.1% the canone can tolerate.
pub const MAX_EXTENT_M: f64 = 5_000.0;
/// Most vertices a ring may have (the self-intersection check is quadratic).
pub const MAX_VERTICES: usize = 500;
/// How far the database's copy of the shape is shrunk inward.
pub const SHRINK_M: f64 = 0.001;
/// The central meridian of the conflict frame.
pub const CENTRAL_MERIDIAN_DEG: f64 = 12.0;
/// The mean Earth radius (IUGG) of the conflict frame.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

const WGS84_A: f64 = 6_378_137.0;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Why a ring is not a place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShapeError {
    /// Fewer than three distinct vertices.
    #[error("servono almeno 3 vertici distinti / at least 3 distinct vertices are needed")]
    TooFewVertices,
    /// More than [`MAX_VERTICES`].
    #[error("al massimo {MAX_VERTICES} vertici / at most {MAX_VERTICES} vertices")]
    TooManyVertices,
    /// A coordinate is not a finite longitude/latitude.
    #[error(
        "vertice {0}: longitudine -180..180 e latitudine -85..85 / vertex {0}: longitude -180..180 and latitude -85..85"
    )]
    OutOfRange(usize),
    /// An edge shorter than [`MIN_EDGE_M`].
    #[error(
        "il lato dal vertice {0} è più corto di 10 cm / the edge from vertex {0} is shorter than 10 cm"
    )]
    EdgeTooShort(usize),
    /// Two edges cross or touch.
    #[error(
        "il poligono si interseca (lati {0} e {1}) / the ring intersects itself (edges {0} and {1})"
    )]
    SelfIntersecting(usize, usize),
    /// The area is (nearly) zero.
    #[error("l'area è nulla / the area is zero")]
    ZeroArea,
    /// Wider than [`MAX_EXTENT_M`].
    #[error("l'occupazione supera 5 km / the occupation spans more than 5 km")]
    TooLarge,
    /// A spike so thin that shrinking it by 1 mm turns it inside out.
    #[error(
        "il poligono ha una punta più sottile di pochi millimetri / the ring has a spike a few millimetres thin"
    )]
    TooThin,
}

/// A checked place.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The ring as given, without a closing repeat or consecutive duplicates.
    pub vertices: Vec<LonLat>,
    /// The true (ellipsoidal) area in m².
    pub area_m2: f64,
    /// The ring in the conflict frame, shrunk by [`SHRINK_M`], counter-clockwise.
    pub shape: Vec<(f64, f64)>,
    /// The lon/lat bounding box: (west, south, east, north).
    pub bounds: (f64, f64, f64, f64),
}

impl Place {
    /// Checks `raw` and measures it.
    pub fn parse(raw: &[LonLat]) -> Result<Self, ShapeError> {
        if raw.len() > MAX_VERTICES + 1 {
            return Err(ShapeError::TooManyVertices);
        }
        for (i, p) in raw.iter().enumerate() {
            let ok = p.lon.is_finite()
                && p.lat.is_finite()
                && (-180.0..=180.0).contains(&p.lon)
                && (-85.0..=85.0).contains(&p.lat);
            if !ok {
                return Err(ShapeError::OutOfRange(i));
            }
        }
        let mut vertices: Vec<LonLat> = Vec::with_capacity(raw.len());
        for p in raw {
            if vertices.last() != Some(p) {
                vertices.push(*p);
            }
        }
        // A closed ring (GeoJSON repeats the first vertex last) is the same place.
        while vertices.len() > 1 && vertices.first() == vertices.last() {
            vertices.pop();
        }
        let distinct = vertices
            .iter()
            .enumerate()
            .filter(|(i, p)| !vertices[..*i].contains(p))
            .count();
        if distinct < 3 {
            return Err(ShapeError::TooFewVertices);
        }
        if vertices.len() > MAX_VERTICES {
            return Err(ShapeError::TooManyVertices);
        }

        let local = local_equal_area(&vertices);
        let n = local.len();
        for i in 0..n {
            if dist(local[i], local[(i + 1) % n]) < MIN_EDGE_M {
                return Err(ShapeError::EdgeTooShort(i));
            }
        }
        let (min_x, max_x) = min_max(local.iter().map(|p| p.0));
        let (min_y, max_y) = min_max(local.iter().map(|p| p.1));
        if max_x - min_x > MAX_EXTENT_M || max_y - min_y > MAX_EXTENT_M {
            return Err(ShapeError::TooLarge);
        }
        if let Some((a, b)) = first_self_intersection(&local) {
            return Err(ShapeError::SelfIntersecting(a, b));
        }
        let area_m2 = signed_area(&local).abs();
        if area_m2 < MIN_AREA_M2 {
            return Err(ShapeError::ZeroArea);
        }

        let mut projected: Vec<(f64, f64)> = vertices.iter().map(|p| conflict_frame(*p)).collect();
        if signed_area(&projected) < 0.0 {
            projected.reverse();
        }
        let shape = shrink(&projected, SHRINK_M).ok_or(ShapeError::TooThin)?;

        let (west, east) = min_max(vertices.iter().map(|p| p.lon));
        let (south, north) = min_max(vertices.iter().map(|p| p.lat));
        Ok(Self {
            vertices,
            area_m2,
            shape,
            bounds: (west, south, east, north),
        })
    }

    /// The shape as a PostgreSQL `polygon` literal, to the micrometre.
    pub fn shape_literal(&self) -> String {
        polygon_literal(&self.shape)
    }
}

/// A ring as a PostgreSQL `polygon` literal, to the micrometre.
pub fn polygon_literal(ring: &[(f64, f64)]) -> String {
    let points: Vec<String> = ring
        .iter()
        .map(|(x, y)| format!("({x:.6},{y:.6})"))
        .collect();
    format!("({})", points.join(","))
}

/// The conflict frame: spherical sinusoidal about 12°E, metres.
pub fn conflict_frame(p: LonLat) -> (f64, f64) {
    let phi = p.lat.to_radians();
    let x = EARTH_RADIUS_M * (p.lon - CENTRAL_MERIDIAN_DEG).to_radians() * phi.cos();
    (x, EARTH_RADIUS_M * phi)
}

/// The WGS84 ellipsoidal area (m²) of a ring, by the local equal-area frame.
pub fn ellipsoidal_area(ring: &[LonLat]) -> f64 {
    signed_area(&local_equal_area(ring)).abs()
}

fn e2() -> f64 {
    WGS84_F * (2.0 - WGS84_F)
}

/// Meridian radius of curvature M(φ).
fn meridian_radius(phi: f64) -> f64 {
    let s = phi.sin();
    WGS84_A * (1.0 - e2()) / (1.0 - e2() * s * s).powf(1.5)
}

/// Prime-vertical radius of curvature N(φ).
fn normal_radius(phi: f64) -> f64 {
    let s = phi.sin();
    WGS84_A / (1.0 - e2() * s * s).sqrt()
}

/// The ring in the ellipsoidal sinusoidal frame about its own mean vertex, in metres:
/// x = (λ−λ₀)·N(φ)·cos φ, y = ∫φ₀..φ M dφ (Simpson's rule; M barely changes over 5 km).
/// ∂(x,y)/∂(λ,φ) has determinant N·cos φ·M, the ellipsoid's own area element, so areas
/// are exact up to the straightness of the edges.
fn local_equal_area(ring: &[LonLat]) -> Vec<(f64, f64)> {
    let count = ring.len().max(1) as f64;
    let lon0 = ring.iter().map(|p| p.lon).sum::<f64>() / count;
    let phi0 = (ring.iter().map(|p| p.lat).sum::<f64>() / count).to_radians();
    ring.iter()
        .map(|p| {
            let phi = p.lat.to_radians();
            let x = (p.lon - lon0).to_radians() * normal_radius(phi) * phi.cos();
            let mid = 0.5 * (phi + phi0);
            let y = (phi - phi0) / 6.0
                * (meridian_radius(phi0) + 4.0 * meridian_radius(mid) + meridian_radius(phi));
            (x, y)
        })
        .collect()
}

/// Shoelace area, positive when counter-clockwise.
fn signed_area(ring: &[(f64, f64)]) -> f64 {
    let n = ring.len();
    // Relative to the first vertex: the conflict frame's y is ~5,000 km, and products of
    // such numbers would lose the millimetres.
    let (ox, oy) = ring.first().copied().unwrap_or_default();
    let mut twice = 0.0;
    for i in 0..n {
        let (x1, y1) = (ring[i].0 - ox, ring[i].1 - oy);
        let (x2, y2) = (ring[(i + 1) % n].0 - ox, ring[(i + 1) % n].1 - oy);
        twice += x1 * y2 - x2 * y1;
    }
    twice / 2.0
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

fn cross(o: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

fn on_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> bool {
    p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
}

/// Whether segments ab and cd share any point (touching included).
fn segments_meet(a: (f64, f64), b: (f64, f64), c: (f64, f64), d: (f64, f64)) -> bool {
    let d1 = cross(c, d, a);
    let d2 = cross(c, d, b);
    let d3 = cross(a, b, c);
    let d4 = cross(a, b, d);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(a, c, d))
        || (d2 == 0.0 && on_segment(b, c, d))
        || (d3 == 0.0 && on_segment(c, a, b))
        || (d4 == 0.0 && on_segment(d, a, b))
}

/// The first pair of edges that cross or touch, other than neighbours at their shared
/// vertex; an edge that folds straight back over its neighbour counts too.
fn first_self_intersection(ring: &[(f64, f64)]) -> Option<(usize, usize)> {
    let n = ring.len();
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        // Neighbours meet at their shared vertex; they overlap only when the ring turns
        // back by 180° (collinear, opposite directions).
        let c = ring[(i + 2) % n];
        let folds = cross(a, b, c).abs() <= 1e-12 * dist(a, b) * dist(b, c)
            && (b.0 - a.0) * (c.0 - b.0) + (b.1 - a.1) * (c.1 - b.1) < 0.0;
        if folds {
            return Some((i, (i + 1) % n));
        }
        for j in (i + 2)..n {
            if i == 0 && j == n - 1 {
                continue;
            }
            if segments_meet(a, b, ring[j], ring[(j + 1) % n]) {
                return Some((i, j));
            }
        }
    }
    None
}

/// `ring` (counter-clockwise) with every edge moved inward by `by`, each vertex where its
/// two moved edges meet; `None` when the result is no longer a simple ring running the
/// same way with every edge in its original direction (a spike thinner than `by`).
fn shrink(ring: &[(f64, f64)], by: f64) -> Option<Vec<(f64, f64)>> {
    let n = ring.len();
    // Work relative to the first vertex for precision, add it back at the end.
    let origin = ring[0];
    let local: Vec<(f64, f64)> = ring
        .iter()
        .map(|p| (p.0 - origin.0, p.1 - origin.1))
        .collect();
    // Each edge i (from vertex i to i+1) moved inward: for a counter-clockwise ring the
    // interior is on the left, whose unit normal is (−dy, dx)/len.
    let moved: Vec<((f64, f64), (f64, f64))> = (0..n)
        .map(|i| {
            let (a, b) = (local[i], local[(i + 1) % n]);
            let len = dist(a, b);
            let normal = (-(b.1 - a.1) / len, (b.0 - a.0) / len);
            let shift = (normal.0 * by, normal.1 * by);
            ((a.0 + shift.0, a.1 + shift.1), (b.0 - a.0, b.1 - a.1))
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (p, r) = moved[(i + n - 1) % n];
        let (q, s) = moved[i];
        let denom = r.0 * s.1 - r.1 * s.0;
        let vertex = if denom.abs() <= 1e-12 * r.0.hypot(r.1) * s.0.hypot(s.1) {
            // Collinear neighbours: the vertex just moves inward with them.
            q
        } else {
            let t = ((q.0 - p.0) * s.1 - (q.1 - p.1) * s.0) / denom;
            (p.0 + t * r.0, p.1 + t * r.1)
        };
        out.push(vertex);
    }
    let same_directions = (0..n).all(|i| {
        let (a, b) = (local[i], local[(i + 1) % n]);
        let (c, d) = (out[i], out[(i + 1) % n]);
        (b.0 - a.0) * (d.0 - c.0) + (b.1 - a.1) * (d.1 - c.1) > 0.0
    });
    if !same_directions || signed_area(&out) <= 0.0 || first_self_intersection(&out).is_some() {
        return None;
    }
    Some(
        out.into_iter()
            .map(|p| (p.0 + origin.0, p.1 + origin.1))
            .collect(),
    )
}

/// Degrees of latitude and longitude that make `metres` at `lat` (for tests and the
/// bench, which lay out places in metres).
pub fn metres_to_degrees(lat: f64, east_m: f64, north_m: f64) -> (f64, f64) {
    let phi = lat.to_radians();
    let dlon = east_m / (normal_radius(phi) * phi.cos()) * 180.0 / PI;
    let dlat = north_m / meridian_radius(phi) * 180.0 / PI;
    (dlon, dlat)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Via del Prione, La Spezia.
    const LON: f64 = 9.8240;
    const LAT: f64 = 44.1070;

    /// A ring laid out in metres east/north of Via del Prione.
    fn ring(metres: &[(f64, f64)]) -> Vec<LonLat> {
        metres
            .iter()
            .map(|&(e, n)| {
                let (dlon, dlat) = metres_to_degrees(LAT, e, n);
                LonLat {
                    lon: LON + dlon,
                    lat: LAT + dlat,
                }
            })
            .collect()
    }

    /// The exact WGS84 area of a lon/lat quadrangle, from the integral of M·N·cos φ:
    /// a²(1−e²)·Δλ·[s/(2(1−e²s²)) + atanh(e·s)/(2e)], s = sin φ.
    fn quadrangle_area(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
        let e = e2().sqrt();
        let f = |lat: f64| {
            let s = lat.to_radians().sin();
            s / (2.0 * (1.0 - e2() * s * s)) + (e * s).atanh() / (2.0 * e)
        };
        WGS84_A * WGS84_A * (1.0 - e2()) * (lon2 - lon1).to_radians() * (f(lat2) - f(lat1))
    }

    #[test]
    fn a_ten_metre_square_is_a_hundred_square_metres() {
        let place =
            Place::parse(&ring(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)])).unwrap();
        assert!((place.area_m2 - 100.0).abs() < 1e-3, "{}", place.area_m2);
    }

    #[test]
    fn the_area_matches_the_exact_ellipsoidal_quadrangle() {
        // Worked example: a 0.001° × 0.001° cell at La Spezia (44.107°N) is about
        // M·Δφ × N·cos φ·Δλ = 111.12 m × 80.06 m = 8,896 m² (exact formula: 8,895.95 m²);
        // also a 0.04° × 0.04° one (about 3.5 × 4.4 km) at Palermo and a 0.0001° one in Turin.
        for (lon, lat, size) in [
            (9.824, 44.107, 0.001),
            (13.36, 38.11, 0.04),
            (7.68, 45.07, 0.0001),
        ] {
            let cell = [
                LonLat { lon, lat },
                LonLat {
                    lon: lon + size,
                    lat,
                },
                LonLat {
                    lon: lon + size,
                    lat: lat + size,
                },
                LonLat {
                    lon,
                    lat: lat + size,
                },
            ];
            let exact = quadrangle_area(lon, lat, lon + size, lat + size);
            let ours = ellipsoidal_area(&cell);
            assert!(
                ((ours - exact) / exact).abs() < 1e-6,
                "{lat}: {ours} vs {exact}"
            );
        }
        let spezia = quadrangle_area(9.824, 44.107, 9.825, 44.108);
        assert!((spezia - 8_895.95).abs() < 0.01, "{spezia}");
    }

    #[test]
    fn an_l_shape_has_its_true_area() {
        // 10 × 2 plus 2 × 8: 36 m², not the 100 m² of its bounding box.
        let l = ring(&[
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 2.0),
            (2.0, 2.0),
            (2.0, 10.0),
            (0.0, 10.0),
        ]);
        let place = Place::parse(&l).unwrap();
        assert!((place.area_m2 - 36.0).abs() < 1e-3, "{}", place.area_m2);
    }

    #[test]
    fn closing_vertex_and_orientation_do_not_matter() {
        let mut closed = ring(&[(0.0, 0.0), (0.0, 5.0), (4.0, 5.0), (4.0, 0.0)]);
        closed.push(closed[0]);
        let place = Place::parse(&closed).unwrap();
        assert_eq!(place.vertices.len(), 4);
        assert!((place.area_m2 - 20.0).abs() < 1e-3);
        assert!(signed_area(&place.shape) > 0.0, "stored counter-clockwise");
    }

    #[test]
    fn the_stored_shape_is_shrunk_by_a_millimetre() {
        let place =
            Place::parse(&ring(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)])).unwrap();
        let outer: Vec<(f64, f64)> = place.vertices.iter().map(|p| conflict_frame(*p)).collect();
        let shrunk = signed_area(&place.shape);
        let full = signed_area(&outer);
        // Perimeter ≈ 40 m (the frame's shear changes lengths by a few %): 40 m × 1 mm.
        let lost = full - shrunk;
        assert!((0.035..0.045).contains(&lost), "{lost}");
    }

    #[test]
    fn an_l_shape_shrinks_inward_at_its_concave_corner_too() {
        let l = ring(&[
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 2.0),
            (2.0, 2.0),
            (2.0, 10.0),
            (0.0, 10.0),
        ]);
        let place = Place::parse(&l).unwrap();
        let outer: Vec<(f64, f64)> = place.vertices.iter().map(|p| conflict_frame(*p)).collect();
        // Perimeter 40 m: about 0.04 m² lost, the ring still simple and six-sided.
        let lost = signed_area(&outer).abs() - signed_area(&place.shape);
        assert!((0.035..0.045).contains(&lost), "{lost}");
        assert_eq!(place.shape.len(), 6);
        assert!(first_self_intersection(&place.shape).is_none());
    }

    #[test]
    fn bad_rings_are_refused_with_their_reason() {
        let cases: Vec<(Vec<LonLat>, ShapeError)> = vec![
            (ring(&[(0.0, 0.0), (10.0, 0.0)]), ShapeError::TooFewVertices),
            (
                ring(&[(0.0, 0.0), (10.0, 0.0), (0.0, 0.0), (10.0, 0.0)]),
                ShapeError::TooFewVertices,
            ),
            (
                ring(&[(0.0, 0.0), (10.0, 0.0), (20.0, 0.0)]),
                ShapeError::SelfIntersecting(1, 2),
            ),
            (
                ring(&[(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)]),
                ShapeError::SelfIntersecting(1, 3),
            ),
            (
                ring(&[(0.0, 0.0), (0.05, 0.0), (0.05, 5.0), (0.0, 5.0)]),
                ShapeError::EdgeTooShort(0),
            ),
            (
                ring(&[(0.0, 0.0), (6_000.0, 0.0), (0.0, 10.0)]),
                ShapeError::TooLarge,
            ),
            (
                vec![
                    LonLat {
                        lon: 200.0,
                        lat: 0.0
                    };
                    3
                ],
                ShapeError::OutOfRange(0),
            ),
            (
                vec![
                    LonLat {
                        lon: 9.0,
                        lat: 44.0,
                    },
                    LonLat {
                        lon: 9.0,
                        lat: f64::NAN,
                    },
                    LonLat {
                        lon: 9.1,
                        lat: 44.0,
                    },
                ],
                ShapeError::OutOfRange(1),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Place::parse(&input), Err(expected.clone()), "{expected}");
        }
    }

    #[test]
    fn a_sliver_with_no_area_is_refused() {
        // Three vertices 1 µm off a line: edges are long, the area is 5e-6 m².
        let sliver = ring(&[(0.0, 0.0), (10.0, 0.0), (5.0, 0.000_001)]);
        assert!(matches!(
            Place::parse(&sliver),
            Err(ShapeError::ZeroArea | ShapeError::TooThin)
        ));
    }
}
