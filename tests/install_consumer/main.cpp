#include <cstdio>
#include <vector>

#include "moerouter/registry.hpp"

int main() {
  using namespace moerouter;
  RouterConfig cfg = preset("mixtral");
  std::vector<float> w(static_cast<size_t>(cfg.experts * cfg.hidden)), x(static_cast<size_t>(cfg.hidden));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 7919) % 13) / 13.0f - 0.5f;
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 104729) % 11) / 11.0f - 0.5f;
  auto router = make_router(cfg, Device::Cpu);
  router->set_weights(TensorView::matrix(w.data(), cfg.experts, cfg.hidden));
  float weights[2] = {-1, -1};
  int32_t ids[2] = {-1, -1};
  router->route(TensorView::matrix(x.data(), 1, cfg.hidden), TensorView::matrix(weights, 1, 2),
                TensorView::matrix(ids, 1, 2));
  std::printf("ids %d %d weights %.6f %.6f\n", ids[0], ids[1], weights[0], weights[1]);
  return (ids[0] >= 0 && ids[0] < 8 && ids[1] >= 0 && ids[1] < 8 && ids[0] != ids[1]) ? 0 : 1;
}
