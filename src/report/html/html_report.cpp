#include "report/html/html_report.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fs.h"
#include "report/html/svg.h"

namespace eff::html {

namespace {

using svg::emit;

// Inline so that the file is self-contained; the Content-Security-Policy in the page forbids
// every network request, so a stray external reference fails loudly instead of phoning home.
constexpr std::string_view kStyle = R"css(
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dee7;--bg:#ffffff;--soft:#f4f6fa;--accent:#2b5d9b}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:var(--bg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif}
header.report{padding:28px 40px 18px;border-bottom:1px solid var(--line);background:var(--soft)}
header.report h1{margin:0;font-size:26px;font-weight:650}
header.report p{margin:6px 0 0;color:var(--muted)}
.layout{display:flex;align-items:flex-start}
nav.toc{position:sticky;top:0;flex:0 0 220px;max-height:100vh;overflow:auto;padding:20px 16px 20px 40px;font-size:14px}
nav.toc h2{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 8px}
nav.toc ol{margin:0;padding-left:18px}
nav.toc a{color:var(--accent);text-decoration:none}
nav.toc a:hover{text-decoration:underline}
main{flex:1 1 auto;min-width:0;padding:8px 40px 40px 24px;max-width:1180px}
section.report-section{padding-top:14px;border-bottom:1px solid var(--line);padding-bottom:18px}
section.report-section h2{font-size:21px;margin:10px 0 6px}
section.report-section h3{font-size:16px;margin:18px 0 4px}
p{margin:8px 0;max-width:80ch}
p.note{background:#fff7e0;border-left:4px solid #e0a800;padding:6px 10px}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 18px;margin:10px 0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0;font-variant-numeric:tabular-nums}
figure.chart{margin:16px 0;overflow-x:auto}
figure.chart svg{display:block;font-family:inherit;font-size:11px;fill:var(--fg)}
figure.chart figcaption{font-size:13.5px;color:var(--muted);max-width:90ch;margin-top:2px}
.chart-note{color:#9a3412}
svg .chart-title{font-size:15px;font-weight:650}
svg .legend text{font-size:12px}
svg .plot-area{fill:#fbfcfe;stroke:none}
svg .plot-area.empty{fill:var(--soft);stroke:var(--line)}
svg .no-data{font-size:14px;fill:var(--muted)}
svg .grid{stroke:#e3e7ee;stroke-width:1}
svg .grid.zero,svg .baseline{stroke:#7d8696;stroke-width:1}
svg .tick{fill:#4a5263}
svg .axis-label{font-size:12px;fill:var(--fg)}
svg .bar:hover,svg .point:hover{opacity:.75}
svg .point{stroke:#ffffff;stroke-width:1}
svg .line{stroke-width:2}
svg .reference line{stroke:#c0392b;stroke-width:1.5;stroke-dasharray:6 4}
svg .reference text{fill:#c0392b;font-size:11px;paint-order:stroke;stroke:#ffffff;stroke-width:3px}
svg .roof{stroke-width:2.5}
svg .ridge{stroke-width:1;stroke-dasharray:2 3}
svg .point-label{font-size:10px;fill:#30384a;paint-order:stroke;stroke:#ffffff;stroke-width:3px}
.table-wrap{max-height:520px;overflow:auto;border:1px solid var(--line);margin:12px 0}
table.data{border-collapse:collapse;font-size:13.5px;min-width:100%}
table.data caption{caption-side:top;text-align:left;padding:6px 8px;color:var(--muted)}
table.data th,table.data td{padding:4px 10px;border-bottom:1px solid #eef0f4;white-space:nowrap}
table.data th{position:sticky;top:0;background:var(--soft);text-align:left;cursor:pointer;user-select:none}
table.data th.num,table.data td.num{text-align:right;font-variant-numeric:tabular-nums}
table.data th[aria-sort=ascending]::after{content:" \25B2"}
table.data th[aria-sort=descending]::after{content:" \25BC"}
table.data tbody tr:nth-child(even){background:#fafbfd}
footer.report{padding:16px 40px;color:var(--muted);font-size:13px}
@media print{nav.toc{display:none}.table-wrap{max-height:none;overflow:visible}}
)css";

// Sorting by header click, and a self-check that every chart rendered a non-empty SVG: it sets
// body[data-ok] to "true" or "false" (the browser test reads it with --dump-dom).
constexpr std::string_view kScript = R"js(
(function () {
  document.querySelectorAll('table.data').forEach(function (table) {
    var heads = table.querySelectorAll('thead th');
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var numeric = th.classList.contains('num');
        rows.sort(function (a, b) {
          var x = a.cells[col], y = b.cells[col];
          var r = numeric ? (parseFloat(x.dataset.v) || 0) - (parseFloat(y.dataset.v) || 0)
                          : x.textContent.localeCompare(y.textContent);
          return asc ? r : -r;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  var figures = document.querySelectorAll('figure.chart');
  var rendered = 0;
  figures.forEach(function (f) {
    var s = f.querySelectorAll('svg');
    if (s.length !== 1 || s[0].childElementCount < 2) return;
    var box = s[0].getBoundingClientRect();
    if (box.width > 0 && box.height > 0) rendered++;
  });
  var expected = parseInt(document.body.dataset.expectedCharts, 10);
  document.body.dataset.chartsRendered = String(rendered);
  document.body.dataset.ok = (rendered === expected && figures.length === expected) ? 'true' : 'false';
})();
)js";

bool valid_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::string render_table(const Table& t) {
  size_t cols = t.header.size();
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (t.rows[r].size() != cols) {
      fail<UsageError>("table '{}': row {} has {} cells for {} columns", t.caption, r, t.rows[r].size(), cols);
    }
  }
  std::vector<bool> numeric(cols, true);
  for (size_t col = 0; col < cols; ++col) {
    bool any = false;
    for (const auto& row : t.rows) {
      const Cell& cell = row[col];
      if (cell.text.empty() && !cell.number) continue;
      any = true;
      if (!cell.number) numeric[col] = false;
    }
    numeric[col] = numeric[col] && any;
  }
  std::string out = "<div class=\"table-wrap\"><table class=\"data\">\n";
  if (!t.caption.empty()) emit(out, "<caption>{}</caption>\n", escape(t.caption));
  out += "<thead><tr>";
  for (size_t col = 0; col < cols; ++col) {
    emit(out, "<th{} scope=\"col\">{}</th>", numeric[col] ? " class=\"num\"" : "", escape(t.header[col]));
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (size_t col = 0; col < cols; ++col) {
      const Cell& cell = row[col];
      if (numeric[col] && cell.number) {
        // data-v carries the exact value, so sorting never depends on the display precision.
        emit(out, "<td class=\"num\" data-v=\"{}\">{}</td>", std::isfinite(*cell.number) ? *cell.number : 0.0,
             escape(cell.text));
      } else {
        emit(out, "<td{}>{}</td>", numeric[col] ? " class=\"num\"" : "", escape(cell.text));
      }
    }
    out += "</tr>\n";
  }
  out += "</tbody></table></div>\n";
  return out;
}

}  // namespace

Cell::Cell(double value, const NumberFormat& format) : text(format_number(value, format)), number(value) {}

Section::Section(std::string id, std::string heading) : id_(std::move(id)), heading_(std::move(heading)) {}

Section& Section::paragraph(std::string_view text) {
  blocks_.push_back(fmt::format("<p>{}</p>\n", escape(text)));
  return *this;
}

Section& Section::subheading(std::string_view text) {
  blocks_.push_back(fmt::format("<h3>{}</h3>\n", escape(text)));
  return *this;
}

Section& Section::note(std::string_view text) {
  blocks_.push_back(fmt::format("<p class=\"note\">{}</p>\n", escape(text)));
  return *this;
}

Section& Section::key_values(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out = "<dl class=\"kv\">\n";
  for (const auto& [key, value] : items) emit(out, "<dt>{}</dt><dd>{}</dd>\n", escape(key), escape(value));
  out += "</dl>\n";
  blocks_.push_back(std::move(out));
  return *this;
}

Section& Section::bar_chart(const BarChart& chart) {
  blocks_.push_back(svg::render_bar_chart(chart));
  ++charts_;
  return *this;
}

Section& Section::line_chart(const LineChart& chart) {
  blocks_.push_back(svg::render_line_chart(chart));
  ++charts_;
  return *this;
}

Section& Section::roofline(const RooflineChart& chart) {
  blocks_.push_back(svg::render_roofline(chart));
  ++charts_;
  return *this;
}

Section& Section::table(const Table& table) {
  blocks_.push_back(render_table(table));
  return *this;
}

std::string Section::render() const {
  std::string out;
  emit(out, "<section class=\"report-section\" id=\"{}\">\n<h2>{}</h2>\n", escape(id_), escape(heading_));
  for (const auto& block : blocks_) out += block;
  out += "</section>\n";
  return out;
}

HtmlReport::HtmlReport(std::string title, std::string subtitle)
    : title_(std::move(title)), subtitle_(std::move(subtitle)) {}

Section& HtmlReport::section(std::string_view id, std::string_view heading, std::string_view intro) {
  if (!valid_id(id)) fail<UsageError>("report section id '{}': use only letters, digits, '-' and '_'", id);
  if (find_section(id)) fail<UsageError>("report section id '{}': already used", id);
  sections_.push_back(std::make_unique<Section>(std::string(id), std::string(heading)));
  if (!intro.empty()) sections_.back()->paragraph(intro);
  return *sections_.back();
}

Section* HtmlReport::find_section(std::string_view id) {
  for (auto& s : sections_) {
    if (s->id() == id) return s.get();
  }
  return nullptr;
}

int HtmlReport::chart_count() const {
  int n = 0;
  for (const auto& s : sections_) n += s->chart_count();
  return n;
}

std::string HtmlReport::render() const {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "script-src 'unsafe-inline'; img-src data:\">\n";
  emit(out, "<meta name=\"generator\" content=\"effectual\">\n<title>{}</title>\n<style>{}</style>\n</head>\n",
       escape(title_), kStyle);
  emit(out, "<body data-expected-charts=\"{}\">\n<header class=\"report\"><h1>{}</h1>", chart_count(), escape(title_));
  if (!subtitle_.empty()) emit(out, "<p>{}</p>", escape(subtitle_));
  out += "</header>\n<div class=\"layout\">\n<nav class=\"toc\"><h2>Contents</h2><ol>\n";
  for (const auto& s : sections_) emit(out, "<li><a href=\"#{}\">{}</a></li>\n", escape(s->id()), escape(s->heading()));
  out += "</ol></nav>\n<main>\n";
  for (const auto& s : sections_) out += s->render();
  if (sections_.empty()) out += "<p class=\"note\">This report has no sections.</p>\n";
  out += "</main>\n</div>\n";
  if (!footer_.empty()) emit(out, "<footer class=\"report\">{}</footer>\n", escape(footer_));
  emit(out, "<script>{}</script>\n</body>\n</html>\n", kScript);
  return out;
}

void HtmlReport::write(const std::string& path) const {
  write_file_atomic(path, render());
}

BarChart histogram_chart(std::string title, const std::vector<double>& edges, const std::vector<double>& counts,
                         const NumberFormat& edge_format) {
  if (edges.size() != counts.size() + 1) {
    fail<UsageError>("histogram '{}': {} bin edges for {} counts (need one more edge than counts)", title, edges.size(),
                     counts.size());
  }
  BarChart chart;
  chart.title = std::move(title);
  chart.y_label = "count";
  for (size_t i = 0; i + 1 < edges.size(); ++i) {
    chart.categories.push_back(
        fmt::format("[{}, {})", format_number(edges[i], edge_format), format_number(edges[i + 1], edge_format)));
  }
  chart.series.push_back({"count", counts, ""});
  chart.format = NumberFormat::plain(0);
  return chart;
}

}  // namespace eff::html
