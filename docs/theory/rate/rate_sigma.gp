# rate_sigma: drawn by tttlab; `gnuplot rate_sigma.gp` redraws it (set terminal/output first)
set title "Error vs noise sigma (k=128, d1=1024, s=4)" noenhanced
set xlabel "sigma" noenhanced
set ylabel "mean (f(x*) - prediction)^2" noenhanced
set logscale x
set logscale y
set grid
set key below maxrows 4 noenhanced
datafile = "rate_sigma.dat"
plot datafile index 0 using 1:2:3 with yerrorlines title "TTT: min-norm local LS (slope 2.00)", \
     datafile index 1 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso, eq. 6) (slope 1.70)", \
     datafile index 2 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso + LS refit) (slope 2.02)", \
     datafile index 3 using 1:2:3 with yerrorlines title "TTT: sparse (IHT, s' = topic size) (slope 1.47)", \
     datafile index 4 using 1:2:3 with yerrorlines title "global LS head (slope 0.00)", \
     datafile index 5 using 1:2:3 with yerrorlines title "neighbour averaging (slope 0.00)"
