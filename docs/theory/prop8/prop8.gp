# prop8: drawn by tttlab; `gnuplot prop8.gp` redraws it (set terminal/output first)
set title "Proposition 8: global least-squares error, mean of 20 draws of P (bars: 1 s.e.)" noenhanced
set xlabel "d2 / d1" noenhanced
set ylabel "E[(y - <Psi(x), v_global>)^2]" noenhanced
set logscale x
set grid
set key below maxrows 4 noenhanced
set yrange [-0.02:1.05]
datafile = "prop8.dat"
plot datafile index 0 using 1:2:3 with yerrorlines title "d1 = 256 (measured)", \
     datafile index 1 using 1:2:3 with yerrorlines title "d1 = 1024 (measured)", \
     datafile index 2 using 1:2:3 with yerrorlines title "d1 = 4096 (measured)", \
     datafile index 3 using 1:2 with lines lw 2 dt 2 lc rgb 'black' title "closed form 1 - d2/d1"
