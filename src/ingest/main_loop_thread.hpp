#pragma once
// The ingest's GLib main context and loop, run on a thread of their own: bus
// watches, the supervisor's tick and input restarts all happen there, never on
// an Asio thread.
#include <thread>

#include <glib.h>

namespace relay::ingest {

class MainLoopThread {
 public:
  // Makes the context and the loop; nothing runs until run().
  MainLoopThread();
  // Stops, then frees the loop and the context.
  ~MainLoopThread();
  MainLoopThread(const MainLoopThread&) = delete;
  MainLoopThread& operator=(const MainLoopThread&) = delete;

  // Where the ingest attaches its sources.
  GMainContext* context() const { return context_; }
  // Starts the thread that runs the loop.
  void run();
  // Quits the loop and joins the thread; what is attached to the context stays.
  void stop();

 private:
  GMainContext* context_;
  GMainLoop* loop_;
  std::thread thread_;
};

}  // namespace relay::ingest
