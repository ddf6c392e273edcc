// Seed 000 ("Task Dependencies") and seed 001 (zeros / multiply):
//
//   @ray.remote
//   def create_matrix(size):
//       return np.random.normal(size=size)
//   @ray.remote
//   def multiply_matrices(x, y):
//       return np.dot(x, y)
//   x_id = create_matrix.remote([1000, 1000])
//   y_id = create_matrix.remote([1000, 1000])
//   z_id = multiply_matrices.remote(x_id, y_id)
//   z = ray.get(z_id)
//
// The twin uses 200x200 matrices (about 350 KiB each, so they live in the
// object store rather than inline) and gives each create_matrix an explicit
// seed, so the product can be checked against a local computation.
#include <msgpack.hpp>

#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {

struct Matrix {
  int rows = 0;
  int cols = 0;
  std::vector<double> data;  // row-major
  MSGPACK_DEFINE(rows, cols, data);
  double at(int r, int c) const { return data[static_cast<size_t>(r) * cols + c]; }
};

// About N(0, 1) (Irwin-Hall: the sum of 12 uniforms minus 6), from our own PRNG.
Matrix create_matrix(std::vector<int> size, uint64_t seed) {
  Matrix m;
  m.rows = size.at(0);
  m.cols = size.at(1);
  SplitMix64 rng(seed);
  m.data.resize(static_cast<size_t>(m.rows) * m.cols);
  for (double& x : m.data) {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += rng.Uniform();
    x = s - 6.0;
  }
  return m;
}

Matrix zeros(std::vector<int> size) {
  Matrix m;
  m.rows = size.at(0);
  m.cols = size.at(1);
  m.data.assign(static_cast<size_t>(m.rows) * m.cols, 0.0);
  return m;
}

Matrix multiply_matrices(Matrix x, Matrix y) {
  if (x.cols != y.rows) throw std::invalid_argument("shapes do not align");
  Matrix z;
  z.rows = x.rows;
  z.cols = y.cols;
  z.data.assign(static_cast<size_t>(z.rows) * z.cols, 0.0);
  for (int i = 0; i < x.rows; ++i)
    for (int k = 0; k < x.cols; ++k) {
      double a = x.at(i, k);
      for (int j = 0; j < y.cols; ++j) z.data[static_cast<size_t>(i) * z.cols + j] += a * y.at(k, j);
    }
  return z;
}

size_t SerializedBytes(const Matrix& m) {
  msgpack::sbuffer sb;
  msgpack::pack(sb, m);
  return sb.size();
}
}  // namespace
DRAY_REMOTE(create_matrix, zeros, multiply_matrices);

ExampleResult RunMatrixDag() {
  ExampleResult r;
  Checker c;
  const int n = 200;

  auto start = dray::Now();
  dray::ObjectRef<Matrix> x_id = dray::Task(create_matrix).Remote(std::vector<int>{n, n}, uint64_t{1});
  dray::ObjectRef<Matrix> y_id = dray::Task(create_matrix).Remote(std::vector<int>{n, n}, uint64_t{2});
  // Not scheduled until both inputs exist; their values replace the refs.
  dray::ObjectRef<Matrix> z_id = dray::Task(multiply_matrices).Remote(x_id, y_id);
  std::shared_ptr<Matrix> z = dray::Get(z_id);
  auto end = dray::Now();
  r.timings_s["random"] = Seconds(end - start);

  // Seed 001: the same DAG over zeros((100, 100)).
  start = dray::Now();
  auto zx = dray::Task(zeros).Remote(std::vector<int>{100, 100});
  auto zy = dray::Task(zeros).Remote(std::vector<int>{100, 100});
  std::shared_ptr<Matrix> zz = dray::Get(dray::Task(multiply_matrices).Remote(zx, zy));
  end = dray::Now();
  r.timings_s["zeros"] = Seconds(end - start);

  // The local computation the result must match bit for bit.
  Matrix lx = create_matrix({n, n}, 1), ly = create_matrix({n, n}, 2);
  Matrix expect = multiply_matrices(lx, ly);
  c.Check(z->rows == n && z->cols == n, Format("z is %dx%d, expected %dx%d", z->rows, z->cols, n, n));
  c.Check(z->data == expect.data, "z differs from the local product");
  c.Check(SerializedBytes(lx) > 100 * 1024, "the input matrices are small enough to be inlined");
  bool all_zero = zz->rows == 100 && zz->cols == 100 && zz->data.size() == 100u * 100u;
  for (double v : zz->data) all_zero = all_zero && v == 0.0;
  c.Check(all_zero, "zeros x zeros is not a 100x100 zero matrix");

  double trace = 0;
  for (int i = 0; i < n && i < z->rows && i < z->cols; ++i) trace += z->at(i, i);
  r.output.push_back(Format("x, y: %dx%d matrices of %zu bytes each", n, n, SerializedBytes(lx)));
  r.output.push_back(Format("z = x . y: %dx%d, z[0][0] = %.6f, trace(z) = %.6f (matches the local product: %s)",
                            z->rows, z->cols, z->data.empty() ? 0.0 : z->data[0], trace,
                            z->data == expect.data ? "yes" : "no"));
  r.output.push_back(Format("zeros((100, 100)) . zeros((100, 100)) is all zero: %s", all_zero ? "yes" : "no"));
  r.output.push_back(Format("duration = %.4f s (compute takes no virtual time)", r.timings_s["random"]));
  r.summary = Format("%dx%d product matches the local one: %s", n, n, z->data == expect.data ? "yes" : "no");
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
