#pragma once
// RAII ownership for GStreamer/GLib objects. Every wrap says whether it adopts a
// reference we already own or takes a new one; floating refs are sunk on adopt.
#include <memory>
#include <string>
#include <utility>

#include <gst/gst.h>

namespace relay::gst {

struct ObjectUnref {
  void operator()(gpointer p) const {
    if (p) gst_object_unref(p);
  }
};

template <typename T>
class ObjectPtr {
 public:
  ObjectPtr() = default;
  // Adopt: the caller hands over a reference it owns (a floating one is sunk).
  static ObjectPtr adopt(T* p) {
    if (p && g_object_is_floating(p)) gst_object_ref_sink(p);
    return ObjectPtr(p);
  }
  // Take: add a reference of our own to a borrowed pointer.
  static ObjectPtr take_ref(T* p) {
    if (p) gst_object_ref(p);
    return ObjectPtr(p);
  }
  T* get() const { return p_.get(); }
  explicit operator bool() const { return bool(p_); }
  void reset() { p_.reset(); }

 private:
  explicit ObjectPtr(T* p) : p_(p) {}
  std::unique_ptr<T, ObjectUnref> p_;
};

using Element = ObjectPtr<GstElement>;
using Pad = ObjectPtr<GstPad>;
using Bus = ObjectPtr<GstBus>;

struct ErrorFree {
  void operator()(GError* e) const { g_error_free(e); }
};
using ErrorPtr = std::unique_ptr<GError, ErrorFree>;

struct GFreeDeleter {
  void operator()(gpointer p) const { g_free(p); }
};
using CharPtr = std::unique_ptr<gchar, GFreeDeleter>;

inline std::string to_string(const CharPtr& s) { return s ? std::string(s.get()) : std::string(); }

// A signal handler that disconnects when it goes out of scope.
class SignalConnection {
 public:
  SignalConnection() = default;
  SignalConnection(gpointer instance, gulong id) : instance_(instance), id_(id) {}
  SignalConnection(SignalConnection&& o) noexcept { *this = std::move(o); }
  SignalConnection& operator=(SignalConnection&& o) noexcept {
    if (this != &o) {
      disconnect();
      instance_ = std::exchange(o.instance_, nullptr);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  SignalConnection(const SignalConnection&) = delete;
  SignalConnection& operator=(const SignalConnection&) = delete;
  ~SignalConnection() { disconnect(); }

  void disconnect() {
    if (instance_ && id_) g_signal_handler_disconnect(instance_, id_);
    instance_ = nullptr;
    id_ = 0;
  }

 private:
  gpointer instance_ = nullptr;
  gulong id_ = 0;
};

}  // namespace relay::gst
