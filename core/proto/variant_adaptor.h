// msgpack for std::variant: [tag, value], tag = alternative index. Decoding an
// unknown tag or a wrong shape throws msgpack::type_error (callers turn it
// into a clear error; a process never crashes on bad input).
#pragma once
#include <array>
#include <stdexcept>
#include <string>
#include <variant>

#include <msgpack.hpp>

namespace dray::internal {
// Converts in place (no default-constructed temporary moved into v). If the
// conversion throws, v holds a partly filled alternative; callers report the
// error and do not use v.
template <class V, size_t I>
void ConvertAlt(const msgpack::object& o, V& v) {
  o.convert(v.template emplace<I>());
}
template <class V, size_t... Is>
constexpr auto MakeConverters(std::index_sequence<Is...>) {
  return std::array<void (*)(const msgpack::object&, V&), sizeof...(Is)>{&ConvertAlt<V, Is>...};
}
}  // namespace dray::internal

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <class... Ts>
struct pack<std::variant<Ts...>> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const std::variant<Ts...>& v) const {
    o.pack_array(2);
    o.pack(static_cast<uint32_t>(v.index()));
    std::visit([&](const auto& alt) { o.pack(alt); }, v);
    return o;
  }
};
template <class... Ts>
struct convert<std::variant<Ts...>> {
  const msgpack::object& operator()(const msgpack::object& o, std::variant<Ts...>& v) const {
    using V = std::variant<Ts...>;
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) throw msgpack::type_error();
    uint32_t tag = o.via.array.ptr[0].as<uint32_t>();
    static constexpr auto kConv = dray::internal::MakeConverters<V>(std::index_sequence_for<Ts...>{});
    if (tag >= kConv.size())
      throw std::out_of_range("unknown variant tag " + std::to_string(tag) + " (known: 0.." +
                              std::to_string(kConv.size() - 1) + ")");
    kConv[tag](o.via.array.ptr[1], v);
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
