;; C = A @ B for float32 matrices in row-major (C) order, computed with WebAssembly SIMD (four floats per instruction).
;;
;; The course links this module against Python's own memory (runtime/src/kernels.js), so it reads and writes NumPy
;; arrays where they are: A is M x K, B is K x N, C is M x N, each passed as the address of its first element, rows
;; packed one after another (C-contiguous). `scratch` is room for K * 8 + 32 floats that this call may overwrite.
;; tinytorch_wasm/kernels.py checks all of that before calling; nothing here checks it again.
;;
;; The work is cut into tiles of 4 rows x 8 columns of C. A tile's 32 sums live in 8 SIMD registers for the whole
;; length of K (8 accumulators, 2 columns of B and 1 broadcast element of A: 11 registers, so nothing spills on a
;; 16-register x86 or ARM core). For each group of 8 columns, those columns of B are first copied into a contiguous
;; "panel" (K rows of 8 floats, zero-padded past N): every row of tiles then streams through it in order, and rows of
;; B that lie a power-of-two apart (N = 512, 1024) cannot evict each other from the cache. Tiles that stick out past
;; M or N are computed in full on clamped rows and padded columns, into a scratch tile, and only the real part copied.
(module
  ;; dylink.0: memory info (subsection 1, 4 bytes): no memory and no table of its own. This section is what lets
  ;; Pyodide's dynamic linker (the one that loads NumPy's compiled parts) link the module against Python's memory.
  (@custom "dylink.0" "\01\04\00\00\00\00")
  (import "env" "memory" (memory 0))

  (func (export "tt_matmul_f32")
        (param $A i32) (param $B i32) (param $C i32) (param $M i32) (param $N i32) (param $K i32) (param $scratch i32)
    (local $lda i32)       ;; bytes from one row of A to the next (K floats)
    (local $ldc i32)       ;; bytes from one row of B or C to the next (N floats)
    (local $lastRow i32)   ;; address of A's last row: rows past M read it instead of memory past the array
    (local $edge i32)      ;; a 4 x 8 scratch tile, after the panel, for tiles that stick out past M or N
    (local $i i32) (local $j i32) (local $rows i32) (local $cols i32) (local $a i32) (local $c i32)
    (if (i32.or (i32.eqz (local.get $M)) (i32.eqz (local.get $N))) (then (return)))
    (if (i32.eqz (local.get $K)) (then  ;; an empty sum: C is all zeros
      (memory.fill (local.get $C) (i32.const 0) (i32.shl (i32.mul (local.get $M) (local.get $N)) (i32.const 2)))
      (return)))
    (local.set $lda (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    (local.set $lastRow (i32.add (local.get $A) (i32.mul (i32.sub (local.get $M) (i32.const 1)) (local.get $lda))))
    (local.set $edge (i32.add (local.get $scratch) (i32.shl (local.get $K) (i32.const 5))))
    (loop $panels
      (local.set $cols (select (i32.const 8) (i32.sub (local.get $N) (local.get $j))
                               (i32.ge_u (i32.sub (local.get $N) (local.get $j)) (i32.const 8))))
      (call $pack_panel (i32.add (local.get $B) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldc)
                        (local.get $K) (local.get $cols) (local.get $scratch))
      (local.set $i (i32.const 0))
      (loop $tiles
        (local.set $rows (select (i32.const 4) (i32.sub (local.get $M) (local.get $i))
                                 (i32.ge_u (i32.sub (local.get $M) (local.get $i)) (i32.const 4))))
        (local.set $a (i32.add (local.get $A) (i32.mul (local.get $i) (local.get $lda))))
        (local.set $c (i32.add (i32.add (local.get $C) (i32.mul (local.get $i) (local.get $ldc)))
                               (i32.shl (local.get $j) (i32.const 2))))
        (if (i32.and (i32.eq (local.get $rows) (i32.const 4)) (i32.eq (local.get $cols) (i32.const 8)))
          (then
            (call $tile_4x8 (local.get $a)
                            (i32.add (local.get $a) (local.get $lda))
                            (i32.add (local.get $a) (i32.shl (local.get $lda) (i32.const 1)))
                            (i32.add (local.get $a) (i32.mul (local.get $lda) (i32.const 3)))
                            (local.get $scratch) (local.get $K) (local.get $c) (local.get $ldc)))
          (else
            (call $tile_4x8 (local.get $a)
                            (select (i32.add (local.get $a) (local.get $lda))
                                    (local.get $lastRow) (i32.gt_u (local.get $rows) (i32.const 1)))
                            (select (i32.add (local.get $a) (i32.shl (local.get $lda) (i32.const 1)))
                                    (local.get $lastRow) (i32.gt_u (local.get $rows) (i32.const 2)))
                            (select (i32.add (local.get $a) (i32.mul (local.get $lda) (i32.const 3)))
                                    (local.get $lastRow) (i32.gt_u (local.get $rows) (i32.const 3)))
                            (local.get $scratch) (local.get $K) (local.get $edge) (i32.const 32))
            (call $copy_tile (local.get $edge) (local.get $c) (local.get $ldc) (local.get $rows) (local.get $cols))))
        (br_if $tiles (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (local.get $M))))
      (br_if $panels (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $N)))))

  ;; Copy `cols` (1 to 8) columns of K rows, starting at $src and $ldb bytes apart, into K rows of 8 floats at $dst,
  ;; zeros in the columns past `cols`. K >= 1.
  (func $pack_panel (param $src i32) (param $ldb i32) (param $K i32) (param $cols i32) (param $dst i32)
    (local $col i32)
    (if (i32.eq (local.get $cols) (i32.const 8))
      (then
        (loop $rows
          (v128.store offset=0 (local.get $dst) (v128.load offset=0 (local.get $src)))
          (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
          (local.set $src (i32.add (local.get $src) (local.get $ldb)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (br_if $rows (local.tee $K (i32.sub (local.get $K) (i32.const 1))))))
      (else
        (loop $rows
          (v128.store offset=0 (local.get $dst) (v128.const i32x4 0 0 0 0))
          (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0))
          (local.set $col (i32.const 0))
          (loop $columns
            (f32.store (i32.add (local.get $dst) (i32.shl (local.get $col) (i32.const 2)))
                       (f32.load (i32.add (local.get $src) (i32.shl (local.get $col) (i32.const 2)))))
            (br_if $columns (i32.lt_u (local.tee $col (i32.add (local.get $col) (i32.const 1))) (local.get $cols))))
          (local.set $src (i32.add (local.get $src) (local.get $ldb)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (br_if $rows (local.tee $K (i32.sub (local.get $K) (i32.const 1))))))))

  ;; One 4 x 8 tile: out[r, 0:8] = sum over k of A[r, k] * panel[k, 0:8], for the rows of A at $a0..$a3, written to
  ;; 4 rows $ldd bytes apart at $out. Each step of k is 2 loads of the panel, 4 broadcasts of A and 8 multiply-adds
  ;; of 4 lanes: 64 floating-point operations. K >= 1.
  (func $tile_4x8 (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32) (param $panel i32) (param $K i32)
                  (param $out i32) (param $ldd i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)  ;; start at 0, as wasm locals do
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (loop $k
      (local.set $b0 (v128.load offset=0 (local.get $panel)))
      (local.set $b1 (v128.load offset=16 (local.get $panel)))
      (local.set $x (v128.load32_splat (local.get $a0)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a1)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a2)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a3)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
      (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
      (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
      (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
      (local.set $panel (i32.add (local.get $panel) (i32.const 32)))
      (br_if $k (local.tee $K (i32.sub (local.get $K) (i32.const 1)))))
    (v128.store offset=0 (local.get $out) (local.get $c00))
    (v128.store offset=16 (local.get $out) (local.get $c01))
    (local.set $out (i32.add (local.get $out) (local.get $ldd)))
    (v128.store offset=0 (local.get $out) (local.get $c10))
    (v128.store offset=16 (local.get $out) (local.get $c11))
    (local.set $out (i32.add (local.get $out) (local.get $ldd)))
    (v128.store offset=0 (local.get $out) (local.get $c20))
    (v128.store offset=16 (local.get $out) (local.get $c21))
    (local.set $out (i32.add (local.get $out) (local.get $ldd)))
    (v128.store offset=0 (local.get $out) (local.get $c30))
    (v128.store offset=16 (local.get $out) (local.get $c31)))

  ;; The real `rows` x `cols` corner of a scratch tile (rows 32 bytes apart) into C (rows $ldc bytes apart).
  (func $copy_tile (param $tile i32) (param $c i32) (param $ldc i32) (param $rows i32) (param $cols i32)
    (local $col i32)
    (loop $rows
      (local.set $col (i32.const 0))
      (loop $columns
        (f32.store (i32.add (local.get $c) (i32.shl (local.get $col) (i32.const 2)))
                   (f32.load (i32.add (local.get $tile) (i32.shl (local.get $col) (i32.const 2)))))
        (br_if $columns (i32.lt_u (local.tee $col (i32.add (local.get $col) (i32.const 1))) (local.get $cols))))
      (local.set $tile (i32.add (local.get $tile) (i32.const 32)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (br_if $rows (local.tee $rows (i32.sub (local.get $rows) (i32.const 1))))))
)
