// dlib's HOG frontal face detector behind a C interface, called as dlib's Python binding calls it
// (tools/python/src/object_detection.cpp, run_detector_with_upscale): the reference crops were
// made through that binding, so upsampling and the mapping back must be the same.
#include "CDlibFaces.h"

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms/image_pyramid.h>

#include <algorithm>
#include <vector>

namespace {

using Detector = dlib::frontal_face_detector;

// The model, deserialised once (thread-safe static initialisation) and only read afterwards.
// A detector is not const while it runs (its scanner keeps the image's feature pyramid, tens of
// MB for a large frame), so each call scans with its own copy, freed when the call returns:
// copying the filters costs far less than a scan, and nothing large outlives the call.
const Detector &prototype() {
    static const Detector model = dlib::get_frontal_face_detector();
    return model;
}

bool validArguments(const uint8_t *gray, int64_t width, int64_t height, int64_t stride, int32_t upsample,
                    const dfg_face_detection *out, int64_t capacity) {
    return gray != nullptr && width > 0 && height > 0 && stride >= width && upsample >= 0 && upsample <= 3
        && capacity >= 0 && (capacity == 0 || out != nullptr);
}

// Checked one factor at a time, so that no product overflows.
bool tooLarge(int64_t width, int64_t height, int32_t upsample) {
    return width > DFG_FACES_MAX_UPSAMPLED_PIXELS || height > DFG_FACES_MAX_UPSAMPLED_PIXELS / width
        || (width * height) > (DFG_FACES_MAX_UPSAMPLED_PIXELS >> (2 * upsample));
}

std::vector<dlib::rect_detection> detectFast(const dlib::array2d<unsigned char> &image);

// What the binding's `detector(gray, upsample)` returns, in dlib's order (`fast`: see detectFast).
// The upsampled image and its HOG feature pyramid are made once and shared by the five filters.
std::vector<dlib::rect_detection> detect(const uint8_t *gray, int64_t width, int64_t height, int64_t stride,
                                         int32_t upsample, bool fast = false) {
    dlib::array2d<unsigned char> image(height, width);
    for (int64_t y = 0; y < height; ++y) {
        std::copy(gray + y * stride, gray + y * stride + width, &image[y][0]);
    }
    Detector detector(prototype());
    std::vector<dlib::rect_detection> detections;
    if (upsample == 0) {
        detector(image, detections, 0.0);
    } else {
        dlib::pyramid_down<2> pyramid;
        dlib::array2d<unsigned char> upsampled;
        dlib::pyramid_up(image, upsampled, pyramid);
        for (int32_t level = 1; level < upsample; ++level) dlib::pyramid_up(upsampled);
        if (fast) {
            detections = detectFast(upsampled);
        } else {
            detector(upsampled, detections, 0.0);
        }
        for (auto &detection : detections) {
            // drectangle to rectangle rounds each side, as the binding's assignment does.
            detection.rect = pyramid.rect_down(detection.rect, upsample);
        }
    }
    return detections;
}

int64_t copyOut(const std::vector<dlib::rect_detection> &detections, dfg_face_detection *out, int64_t capacity) {
    const int64_t count = static_cast<int64_t>(detections.size());
    for (int64_t i = 0; i < count && i < capacity; ++i) {
        const auto &d = detections[static_cast<size_t>(i)];
        out[i] = dfg_face_detection{d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(),
                                    d.detection_confidence};
    }
    return count;
}

// The fast mode (see CDlibFaces.h). dlib scans an image pyramid (each level 5/6 of the one
// before) with five filters; the fine levels, wider than half the upsampled image (finer than the
// frame itself at upsampling 1), cost about three quarters and find only the smallest faces. The
// fast mode scans the coarse levels exactly as dlib does, then the fine levels only in windows
// around what they found. Within a window every filter response is dlib's to the bit: each window is cut from
// dlib's own pyramid level at a column that is a multiple of 64 pixels (8 HOG cells: the HOG
// extractor's and the filters' SIMD blocks fall on the same columns) and a row that is a
// multiple of 8 (a cell), and grown by a guard band that keeps the responses used away from its
// cut edges. So every detection found is dlib's (box and score), and the frame's detections are
// dlib's unless dlib finds a small face away from every larger detection.
struct Model {
    std::vector<dlib::scan_fhog_pyramid<dlib::pyramid_down<6>>::fhog_filterbank> filters;
    std::vector<double> thresholds;
};

const Model &model() {
    static const Model shared = [] {
        Model m;
        const auto &scanner = prototype().get_scanner();
        for (unsigned long i = 0; i < prototype().num_detectors(); ++i) {
            m.filters.push_back(scanner.build_fhog_filterbank(prototype().get_w(i)));
            m.thresholds.push_back(prototype().get_w(i)(scanner.get_num_dimensions()));
        }
        return m;
    }();
    return shared;
}

// Cells kept between a window's cut edge and the responses read from it: the HOG of a cell
// depends on pixels up to 2 cells away (gradients, bilinear votes, block normalisation), a
// response on the filter's half-size, and the last 7 columns of a cut may be filtered without SIMD.
constexpr long guardCells = 4;
constexpr long simdColumns = 8;
// A coarse response's window for the fine levels: its box grown by this share of its size on
// every side (fine responses are the smaller boxes inside and around it).
constexpr double windowGrowth = 0.25;

std::vector<dlib::rect_detection> detectFast(const dlib::array2d<unsigned char> &image) {
    using Scanner = dlib::scan_fhog_pyramid<dlib::pyramid_down<6>>;
    const Scanner &scanner = prototype().get_scanner();
    const Model &m = model();
    const long cell = static_cast<long>(scanner.get_cell_size());
    const long filterRows = static_cast<long>(scanner.get_fhog_window_height());
    const long filterCols = static_cast<long>(scanner.get_fhog_window_width());
    const long padding = static_cast<long>(scanner.get_padding());
    const unsigned long boxRows = filterRows - 2 * padding, boxCols = filterCols - 2 * padding;

    // dlib's image pyramid (create_fhog_pyramid's level count and resampling).
    unsigned long levels = 0;
    {
        dlib::pyramid_down<6> pyr;
        dlib::rectangle rect = dlib::get_rect(image);
        do {
            rect = pyr.rect_down(rect);
            ++levels;
        } while (rect.width() >= scanner.get_min_pyramid_layer_width()
                 && rect.height() >= scanner.get_min_pyramid_layer_height() && levels < scanner.get_max_pyramid_levels());
    }
    std::vector<dlib::array2d<unsigned char>> pyramid(levels);
    {
        dlib::pyramid_down<6> pyr;
        for (unsigned long l = 1; l < levels; ++l) pyr(l == 1 ? image : pyramid[l - 1], pyramid[l]);
    }
    auto level = [&](unsigned long l) -> const dlib::array2d<unsigned char> & { return l == 0 ? image : pyramid[l]; };

    // Responses above threshold, per filter, as (level, row, column) in the whole level's HOG.
    struct Hit {
        unsigned long level;
        long row, col;
        double score;
    };
    std::vector<std::vector<Hit>> hits(m.filters.size());

    // Scans `area` (pixels of level l; its left a multiple of 8 cells, its top a multiple of a
    // cell) and keeps the responses that are dlib's own: those whose filter reads no HOG cell
    // within `guardCells` of a cut edge, nor a column of the last SIMD block before a cut right
    // edge. (An edge of the level is no cut: dlib's scan has the same edge.)
    auto scan = [&](unsigned long l, const dlib::rectangle &area) {
        const dlib::rectangle whole = dlib::get_rect(level(l));
        const long dx = area.left() / cell, dy = area.top() / cell;
        dlib::array<dlib::array2d<float>> feats;
        dlib::array2d<unsigned char> cut;
        const dlib::array2d<unsigned char> *source = &level(l);
        if (area != whole) {
            cut.set_size(area.height(), area.width());
            for (long r = 0; r < area.height(); ++r) {
                const unsigned char *row = &level(l)[area.top() + r][area.left()];
                std::copy(row, row + area.width(), &cut[r][0]);
            }
            source = &cut;
        }
        scanner.get_feature_extractor()(*source, feats, static_cast<int>(cell), static_cast<int>(filterRows),
                                        static_cast<int>(filterCols));
        if (feats.size() == 0 || feats[0].size() == 0) return;
        // HOG column j describes the area's cell j - (filterCols - 1) / 2 (and its neighbours);
        // a response at column c reads columns c - filterCols / 2 ... c + (filterCols - 1) / 2.
        const long padCols = (filterCols - 1) / 2, padRows = (filterRows - 1) / 2;
        const dlib::rectangle kept(
            area.left() > whole.left() ? padCols + guardCells + filterCols / 2 : 0,
            area.top() > whole.top() ? padRows + guardCells + filterRows / 2 : 0,
            area.right() < whole.right() ? feats[0].nc() - 1 - padCols - guardCells - (filterCols - 1) / 2 - simdColumns
                                         : feats[0].nc(),
            area.bottom() < whole.bottom() ? feats[0].nr() - 1 - padRows - guardCells - (filterRows - 1) / 2
                                           : feats[0].nr());
        dlib::array2d<float> saliency;
        for (size_t i = 0; i < m.filters.size(); ++i) {
            const dlib::rectangle valid = dlib::impl::apply_filters_to_fhog(m.filters[i], feats, saliency).intersect(kept);
            for (long r = valid.top(); r <= valid.bottom(); ++r) {
                for (long c = valid.left(); c <= valid.right(); ++c) {
                    if (saliency[r][c] >= m.thresholds[i]) hits[i].push_back(Hit{l, r + dy, c + dx, saliency[r][c]});
                }
            }
        }
    };

    // The coarse levels: at most half the upsampled image's width (level 0 is the upsampled image).
    unsigned long firstCoarse = 0;
    for (const dlib::rectangle frame = dlib::get_rect(image);
         firstCoarse < levels && dlib::get_rect(level(firstCoarse)).width() * 2 > frame.width(); ++firstCoarse) {}
    for (unsigned long l = firstCoarse; l < levels; ++l) scan(l, dlib::get_rect(level(l)));

    // Windows in level-0 pixels: each coarse response's box, grown by `windowGrowth`.
    std::vector<dlib::rectangle> windows;
    dlib::pyramid_down<6> pyr;
    for (const auto &filterHits : hits) {
        for (const auto &h : filterHits) {
            dlib::rectangle box = scanner.get_feature_extractor().feats_to_image(
                dlib::centered_rect(dlib::point(h.col, h.row), boxCols, boxRows), static_cast<int>(cell),
                static_cast<int>(filterRows), static_cast<int>(filterCols));
            box = pyr.rect_up(box, h.level);
            const long grow = static_cast<long>(windowGrowth * static_cast<double>(box.width()));
            windows.push_back(dlib::grow_rect(box, grow));
        }
    }
    // No coarse face: every level, as dlib scans them.
    const bool exact = windows.empty();
    // Pixels cut around a window (on top of the 8-cell alignment on the left): a response's
    // centre lies 3 cells right of its first HOG column; the kept responses start at column
    // 4 + guardCells + 5 of an area and end as far before a cut right edge, plus a SIMD block.
    const long border = (guardCells + std::max(filterRows, filterCols)) * cell;
    for (unsigned long l = 0; l < firstCoarse; ++l) {
        const dlib::rectangle whole = dlib::get_rect(level(l));
        if (exact) {
            scan(l, whole);
            continue;
        }
        // Overlapping windows of a level are scanned once, as their union.
        std::vector<dlib::rectangle> areas;
        for (const auto &w : windows) {
            const dlib::rectangle inLevel = pyr.rect_down(w, l);
            dlib::rectangle area(inLevel.left() - border, inLevel.top() - border,
                                 inLevel.right() + border + simdColumns * cell, inLevel.bottom() + border);
            area.left() = std::max(0L, area.left() / (simdColumns * cell) * (simdColumns * cell));
            area.top() = std::max(0L, area.top() / cell * cell);
            area = area.intersect(whole);
            if (area.is_empty()) continue;
            areas.push_back(area);
        }
        // Merging keeps the left and top alignment (both are multiples).
        for (bool merged = true; merged;) {
            merged = false;
            for (size_t i = 0; i < areas.size() && !merged; ++i) {
                for (size_t j = i + 1; j < areas.size() && !merged; ++j) {
                    if (!areas[i].intersect(areas[j]).is_empty()) {
                        areas[i] = areas[i] + areas[j];
                        areas.erase(areas.begin() + static_cast<long>(j));
                        merged = true;
                    }
                }
            }
        }
        for (const auto &area : areas) scan(l, area);
    }

    // dlib's object_detector from here: each filter's responses by level, row and column, sorted
    // by descending score (the same std::sort on the same sequence), then all of them, then its
    // non-maximum suppression.
    std::vector<dlib::rect_detection> accumulated;
    for (size_t i = 0; i < hits.size(); ++i) {
        auto &filterHits = hits[i];
        std::sort(filterHits.begin(), filterHits.end(), [](const Hit &a, const Hit &b) {
            return a.level != b.level ? a.level < b.level : a.row != b.row ? a.row < b.row : a.col < b.col;
        });
        filterHits.erase(std::unique(filterHits.begin(), filterHits.end(), [](const Hit &a, const Hit &b) {
            return a.level == b.level && a.row == b.row && a.col == b.col;
        }), filterHits.end());
        std::vector<std::pair<double, dlib::rectangle>> dets;
        for (const auto &h : filterHits) {
            dlib::rectangle rect = scanner.get_feature_extractor().feats_to_image(
                dlib::centered_rect(dlib::point(h.col, h.row), boxCols, boxRows), static_cast<int>(cell),
                static_cast<int>(filterRows), static_cast<int>(filterCols));
            dets.push_back(std::make_pair(h.score, pyr.rect_up(rect, h.level)));
        }
        std::sort(dets.rbegin(), dets.rend(), dlib::impl::compare_pair_rect);
        for (const auto &d : dets) {
            dlib::rect_detection temp;
            temp.detection_confidence = d.first - m.thresholds[i];
            temp.weight_index = i;
            temp.rect = d.second;
            accumulated.push_back(temp);
        }
    }
    if (m.filters.size() > 1) std::sort(accumulated.rbegin(), accumulated.rend());
    std::vector<dlib::rect_detection> final;
    const auto overlaps = prototype().get_overlap_tester();
    for (const auto &d : accumulated) {
        if (std::any_of(final.begin(), final.end(), [&](const dlib::rect_detection &k) { return overlaps(k.rect, d.rect); })) {
            continue;
        }
        final.push_back(d);
    }
    return final;
}

}  // namespace

extern "C" int64_t dfg_detect_faces(const uint8_t *gray, int64_t width, int64_t height, int64_t stride,
                                    int32_t upsample, dfg_face_detection *out, int64_t capacity) {
    if (!validArguments(gray, width, height, stride, upsample, out, capacity)) return DFG_FACES_BAD_ARGUMENT;
    if (tooLarge(width, height, upsample)) return DFG_FACES_TOO_LARGE;
    try {
        return copyOut(detect(gray, width, height, stride, upsample), out, capacity);
    } catch (...) {
        return DFG_FACES_FAILED;
    }
}

extern "C" int64_t dfg_detect_faces_fast(const uint8_t *gray, int64_t width, int64_t height, int64_t stride,
                                         int32_t upsample, dfg_face_detection *out, int64_t capacity) {
    if (!validArguments(gray, width, height, stride, upsample, out, capacity)) return DFG_FACES_BAD_ARGUMENT;
    if (tooLarge(width, height, upsample)) return DFG_FACES_TOO_LARGE;
    try {
        return copyOut(detect(gray, width, height, stride, upsample, upsample > 0), out, capacity);
    } catch (...) {
        return DFG_FACES_FAILED;
    }
}
