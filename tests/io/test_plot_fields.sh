#!/bin/sh
# usage: test_plot_fields.sh PYTHON HJBFT PLOT_SCRIPT WORKDIR
# Runs validation/plot_fields.py on `hjbft exact` outputs (1-D, 2-D) and on files
# at the edges of the layout (/history, /density, one saved time, NaN, no
# /control), and checks the PNGs it must write exist and are non-empty.
# Exit 77 (skipped) when PYTHON cannot import h5py and matplotlib.
py=$1 hjbft=$2 plot=$3 work=$4
here=$(dirname "$0")
"$py" -c "import h5py, matplotlib, numpy" 2>/dev/null || { echo "skipped: $py lacks h5py/matplotlib"; exit 77; }
set -e
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$hjbft" exact -da_grid_x 41 -nt 20 -o e1.h5 > /dev/null
"$hjbft" exact -dim 2 -da_grid_x 17 -da_grid_y 13 -nt 10 -o e2.h5 > /dev/null
"$py" "$here/make_edge_files.py" e1.h5 e2.h5 .
fail=0
check() {  # check FILE.h5 PNG...
  f=$1; shift
  "$py" "$plot" "$f" -o "${f%.h5}_png" || { echo "FAIL: plot_fields.py exited $? on $f"; fail=1; return; }
  for p in "$@"; do
    [ -s "${f%.h5}_png/$p" ] || { echo "FAIL: $f: ${p} missing or empty"; fail=1; }
  done
}
check e1.h5 value_heatmap.png control_heatmap.png value_lines.png control_lines.png
check e2.h5 value_slices.png control_slices.png
check edge_history_1d.h5 value_heatmap.png density_heatmap.png density_lines.png history.png
check edge_history_2d.h5 value_slices.png control_slices.png density_slices.png history.png
check edge_one_time.h5 value_slices.png control_slices.png
check edge_bare.h5 value_heatmap.png value_lines.png
# Default output folder: FILE_plots next to FILE.
"$py" "$plot" e1.h5 > /dev/null && [ -s e1_plots/value_heatmap.png ] || { echo "FAIL: default folder"; fail=1; }
# A file that is not HDF5: a clear error, no traceback.
echo "not hdf5" > junk.h5
if "$py" "$plot" junk.h5 > junk.out 2>&1; then echo "FAIL: junk.h5 accepted"; fail=1; fi
grep -q "plot_fields.py: error: cannot read junk.h5" junk.out || { cat junk.out; echo "FAIL: no clear error"; fail=1; }
[ $fail -eq 0 ] && echo "test_plot_fields.sh: ok"
exit $fail
