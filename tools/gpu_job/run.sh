#!/usr/bin/env bash
# The GPU job, run on the device machine from the checkout's root with .gpujob/ carried (see README.md).
#
# 1. `accurate` teachers (ResNet-18, one per seed in TEACHER_SEEDS) train side by side with the native PyTorch
#    engine (`--engine torch`; Keras on torch was 5x slower, see README.md), fitted to TEACHER_MIN;
# 2. their averaged mirror-TTA probabilities on FER2013 Training are stored (the distillation targets);
# 3. `fast` students (one per ARCH[:SEED] in STUDENT_ARCHS) are distilled from them side by side, fitted to
#    STUDENT_MIN or to what is left of DEADLINE_S (seconds since the job started), whichever is less;
# 4. models come back as float16 weights with training.json and logs, tarred in 15 MiB parts under $OUT.
# Anything that fails stops the job at once, so a broken run costs seconds, not the slot.
#
# One call may do one half: STUDENT_ARCHS="" trains the teachers only, so they get the whole call;
# TEACHER_SEEDS="" distils the students only, from STUDENT_TARGETS (default: the teacher_probs.npz an earlier
# call left on this warm machine). TEACHER_ARGS and STUDENT_ARGS add options to one side (EXTRA_ARGS to both),
# e.g. TEACHER_ARGS="--teacher models/teacher_targets/fer2013_training.npz" for a born-again teacher;
# TEACHER_ARGS_<seed> adds options to one teacher only, so two seeds side by side can test two recipes;
# STUDENT_ARGS_<seed> does the same for students. A student whose options name --teacher-model distils from
# those networks online (e.g. the .keras files the teachers' call left in $JOB) instead of the stored targets.
set -uo pipefail
T0=$(date +%s)
TEACHER_MIN=${TEACHER_MIN:-5.8}
TEACHER_SEEDS=${TEACHER_SEEDS-0}        # "" = no teachers in this call
STUDENT_ARCHS=${STUDENT_ARCHS-resnet_m}  # "" = no students in this call
STUDENT_MIN=${STUDENT_MIN:-1.9}
DEADLINE_S=${DEADLINE_S:-540}
ENGINE=${ENGINE:-torch}
OUT=${OUT:-/tmp/gpujob-out}
JOB=${JOB:-runs/gpu}       # a dry run: JOB=runs/gpu-dry, so it leaves real results alone
mkdir -p "$OUT" "$JOB"
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/job.log"; }

PY=${PY:-python3}          # dry run on a CPU: see README.md
EXTRA_ARGS=${EXTRA_ARGS:-}
TEACHER_ARGS=${TEACHER_ARGS:-}
STUDENT_ARGS=${STUDENT_ARGS:-}
STUDENT_TARGETS=${STUDENT_TARGETS:-$JOB/teacher_probs.npz}
if [[ -z ${SKIP_WHEELS:-} ]]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpujob/wheels/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=torch PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4
if [[ -z ${TRAIN_DIR:-} ]]; then
  bash tools/gpu_job/receive.sh 2>&1 | tee -a "$OUT/job.log"
  (( PIPESTATUS[0] == 0 )) || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$OUT/job.log"
$PY -c "import keras, torch; print('keras', keras.__version__, 'torch', torch.__version__)" | tee -a "$OUT/job.log"

# run_all NAME:ARGS... in parallel; kill the rest and fail as soon as one fails
run_all() {
  local pids=() names=()
  for spec in "$@"; do
    local name=${spec%%:*} args=${spec#*:}
    # shellcheck disable=SC2086
    $PY -m fer_core.train $args --engine "$ENGINE" $EXTRA_ARGS --name "$name" --out "$JOB/$name" --checkpoint-dir "$JOB/ckpt/$name" \
      >"$JOB/$name.log" 2>&1 &
    pids+=($!); names+=("$name")
  done
  local left=${#pids[@]}
  while (( left > 0 )); do
    left=0
    for i in "${!pids[@]}"; do
      local pid=${pids[$i]}
      [[ -z $pid ]] && continue
      if kill -0 "$pid" 2>/dev/null; then left=$((left + 1)); continue; fi
      wait "$pid"; local rc=$?
      pids[$i]=""
      log "${names[$i]} exited $rc: $(tail -n 1 "$JOB/${names[$i]}.log")"
      if (( rc != 0 )); then
        tail -n 30 "$JOB/${names[$i]}.log"
        for p in "${pids[@]}"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
        return 1
      fi
    done
    sleep 2
  done
}

pack() {  # pack NAME PATHS...: tar into 15 MiB parts under $OUT
  local name=$1; shift
  tar czf - "$@" | split -b 15M - "$OUT/$name.tgz.part-"
  log "packed $name: $(ls "$OUT" | grep -c "^$name.tgz.part-") part(s)"
}

TRAIN_DIR=${TRAIN_DIR:-data/Training}
DATA="--data $TRAIN_DIR --val ${VAL_DIR:-data/PublicTest}"
if [[ -n $TEACHER_SEEDS ]]; then
  log "teachers: ${TEACHER_MIN} min each"
  TEACHERS=()
  SPECS=()
  for seed in $TEACHER_SEEDS; do
    name=resnet18_fer2013$([[ $seed == 0 ]] || echo "_seed$seed")
    TEACHERS+=("$name")
    own="TEACHER_ARGS_$seed"   # options for this seed only, e.g. TEACHER_ARGS_1="--augment reference"
    SPECS+=("$name:--recipe accurate $DATA --seed $seed --epochs 300 --time-budget $TEACHER_MIN $TEACHER_ARGS ${!own:-}")
  done
  run_all "${SPECS[@]}"
  TEACHERS_OK=$?
  KERAS_FILES=()
  for t in "${TEACHERS[@]}"; do
    [[ -f $JOB/$t/model.keras ]] && cp "$JOB/$t/model.keras" "$JOB/$t.keras" && KERAS_FILES+=("$JOB/$t.keras") \
      && $PY -m fer_core.convert --shrink "$JOB/$t"
  done
  if (( TEACHERS_OK == 0 )); then
    $PY -m fer_core.training.distillation "${KERAS_FILES[@]}" --data "$TRAIN_DIR" --out "$JOB/teacher_probs.npz" 2>&1 \
      | tee -a "$OUT/job.log"
  fi
  pack teachers "${TEACHERS[@]/#/$JOB/}" "$JOB"/resnet18_fer2013*.log \
    $( [[ -f $JOB/teacher_probs.npz ]] && echo "$JOB/teacher_probs.npz")
  [[ -f $JOB/teacher_probs.npz ]] || { log "no teacher targets: students skipped"; exit 1; }
fi
[[ -n $STUDENT_ARCHS ]] || { log "done (teachers only: STUDENT_ARCHS is empty)"; exit 0; }
seed_of() { [[ $1 == *:* ]] && echo "${1#*:}" || echo 0; }   # ARCH[:SEED]
# online SEED: that student's options (STUDENT_ARGS, STUDENT_ARGS_<seed>) name teachers to run online, which
# replace the stored targets
online() { local own="STUDENT_ARGS_$1"; [[ "$STUDENT_ARGS ${!own:-}" == *--teacher-model* ]]; }
for spec in $STUDENT_ARCHS; do
  online "$(seed_of "$spec")" || [[ -f $STUDENT_TARGETS ]] \
    || { log "no distillation targets at $STUDENT_TARGETS: run the teachers first, on this same machine"; exit 1; }
done
LEFT_MIN=$(python3 -c "print(round(min($STUDENT_MIN, ($DEADLINE_S - $(( $(date +%s) - T0 )) - 25) / 60), 2))")
log "students: ${LEFT_MIN} min each"
(( $(python3 -c "print(int($LEFT_MIN >= 0.25))") )) || { log "no time left for students"; exit 1; }
STUDENTS=()
SPECS=()
for spec in $STUDENT_ARCHS; do
  arch=${spec%%:*}; seed=$(seed_of "$spec")
  name=${arch}_distilled$([[ $seed == 0 ]] || echo "_seed$seed")
  own="STUDENT_ARGS_$seed"   # options for this seed only, e.g. STUDENT_ARGS_1="--teacher-model runs/gpu/resnet18_fer2013.keras"
  teacher="--teacher $STUDENT_TARGETS"
  online "$seed" && teacher=""
  STUDENTS+=("$name")
  SPECS+=("$name:--recipe fast --arch $arch $DATA --seed $seed $teacher --epochs 300 --time-budget $LEFT_MIN $STUDENT_ARGS ${!own:-}")
done
run_all "${SPECS[@]}"
STUDENTS_OK=$?
STUDENT_LOGS=("${STUDENTS[@]/#/$JOB/}"); STUDENT_LOGS=("${STUDENT_LOGS[@]/%/.log}")
pack students "${STUDENTS[@]/#/$JOB/}" "${STUDENT_LOGS[@]}"
grep -h "kept epoch\|time budget" "${STUDENT_LOGS[@]}" | tee -a "$OUT/job.log"
log "done"
exit $STUDENTS_OK
