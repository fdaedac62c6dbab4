#!/bin/bash
# bench/echo_ab.sh BUILD TRANSPORT SIZE [ROUNDS] - payload echoes, plumb and
# the raw mechanism interleaved (ROUNDS pairs, 200 calls or 0.4 s each):
# MB/s (request + reply bytes), CPU us per call (client + server) and page
# faults per call, heap allocations per call in the client (timed calls)
# and in the server (rounds 2..ROUNDS, from bench-server's SIGUSR1 counts;
# not for pipe, whose server is the client's child).  Run it for two builds
# in turn to compare them (bench/results/big-echo.md).  Short by design:
# others share the CPUs.  EP_SUFFIX is appended to the endpoint (shm:
# "?ring=4194304").  For shm, "raw" is one memcpy of SIZE bytes
# (bench/memcpy_bw; MEMCPY_BW names another binary), the loan target of
# issue 17 being 0.8x of it.
B=$1; t=$2; s=$3; R=${4:-3}
case $t in
  unix) ep=unix:/tmp/bigq-$$.sock;; tcp) ep=tcp://127.0.0.1:$((20000+RANDOM%20000));;
  shm|mq) ep=$t:/bigq-$$$EP_SUFFIX;; sysvmq) ep=sysvmq:/tmp/bigq-$$.key;; fifo) ep=fifo:/tmp/bigq-$$;;
  pipe) ep="pipe:exec=$B/bench/bench-server pipe:";;
esac
if [ $t != pipe ]; then
BENCH_SERVER_CPU=${SRV_CPU:-1} $B/bench/bench-server $ep 2>/tmp/bigq-srv-$$.log >/dev/null & sp=$!
for i in $(seq 50); do grep -q serving /tmp/bigq-srv-$$.log && break; sleep 0.05; done
else sp=0; export BENCH_SERVER_CPU=1; fi
P=(); RW=(); PC=(); RC=(); AL=()
for r in $(seq $R); do
  o=$(timeout 30 $B/bench/bench-client lat "$ep" echo -s $s -c 0 -n 200 -t 0.4 -P $sp 2>&1)
  P+=($(echo "$o" | grep -o "MBps=[0-9.]*" | cut -d= -f2)); PC+=($(echo "$o" | awk '{for(i=1;i<=NF;i++){split($i,a,"=");if(a[1]=="client_cpu_us")c=a[2];if(a[1]=="server_cpu_us")s=a[2]}}END{print c+s}'))
  PF=$(echo "$o" | grep -o "client_faults=[0-9.]* server_faults=[0-9.]*")
  AL+=($(echo "$o" | grep -o "allocs_per_call=[0-9.]*" | cut -d= -f2))
  if [ $sp != 0 ] && { [ $r = 1 ] || [ $r = $R ]; }; then
    kill -USR1 $sp; sleep 0.2
  fi
  if [ $t = shm ]; then # the floor: one memcpy of the payload, CPU 0
  o=$(timeout 30 ${MEMCPY_BW:-$B/bench/memcpy_bw} -s $s -c 0 2>&1)
  RW+=($(echo "$o" | grep -o "MBps=[0-9.]*" | cut -d= -f2)); RC+=(-)
  else
  o=$(timeout 30 $B/bench/raw_pingpong $t -n 200 -t 0.4 -s $s -c ${RAW_PLACE:-cross} -e 2>&1)
  RW+=($(echo "$o" | grep -o "MBps=[0-9.]*" | cut -d= -f2)); RC+=($(echo "$o" | awk '{for(i=1;i<=NF;i++){split($i,a,"=");if(a[1]=="client_cpu_us")c=a[2];if(a[1]=="server_cpu_us")s=a[2]}}END{print c+s}'))
  fi
done
SA=-
if [ $sp != 0 ]; then
  SA=$(grep "when=usr1" /tmp/bigq-srv-$$.log | tail -2 | awk '{for(i=1;i<=NF;i++){split($i,a,"=");if(a[1]=="calls")c[NR]=a[2];if(a[1]=="allocs")m[NR]=a[2]}}END{if(NR==2&&c[2]>c[1])printf "%.3f",(m[2]-m[1])/(c[2]-c[1]);else print "-"}')
fi
[ $sp != 0 ] && kill $sp && wait $sp 2>/dev/null; rm -f /tmp/bigq-srv-$$.log
echo "$t $s plumb MBps: ${P[*]} cpu/call: ${PC[*]} | raw MBps: ${RW[*]} cpu/call: ${RC[*]} | $PF allocs/call client: ${AL[*]} server: $SA"
