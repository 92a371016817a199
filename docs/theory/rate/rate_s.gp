# rate_s: drawn by tttlab; `gnuplot rate_s.gp` redraws it (set terminal/output first)
set title "Error vs active concepts s (topic size 2s, k=128, d1=1024, sigma=0.5)" noenhanced
set xlabel "s" noenhanced
set ylabel "mean (f(x*) - prediction)^2" noenhanced
set logscale x
set logscale y
set grid
set key below maxrows 4 noenhanced
datafile = "rate_s.dat"
plot datafile index 0 using 1:2:3 with yerrorlines title "TTT: min-norm local LS (slope 1.49)", \
     datafile index 1 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso, eq. 6) (slope 1.49)", \
     datafile index 2 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso + LS refit) (slope 1.38)", \
     datafile index 3 using 1:2:3 with yerrorlines title "TTT: sparse (IHT, s' = topic size) (slope 1.63)", \
     datafile index 4 using 1:2:3 with yerrorlines title "global LS head (slope 0.90)", \
     datafile index 5 using 1:2:3 with yerrorlines title "neighbour averaging (slope 1.82)"
