#include "ingest/main_loop_thread.hpp"

namespace relay::ingest {

MainLoopThread::MainLoopThread() : context_(g_main_context_new()), loop_(g_main_loop_new(context_, FALSE)) {}

MainLoopThread::~MainLoopThread() {
  stop();
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
}

void MainLoopThread::run() {
  thread_ = std::thread([this] {
    g_main_context_push_thread_default(context_);
    g_main_loop_run(loop_);
    g_main_context_pop_thread_default(context_);
  });
}

void MainLoopThread::stop() {
  if (!thread_.joinable()) return;
  // Quit from inside the loop (as the webhook sender does): g_main_loop_run()
  // clears an earlier quit, so a g_main_loop_quit() from here, before the thread
  // has entered the loop (a relay stopped just after it started), would be lost
  // and the join would hang.
  g_main_context_invoke(
      context_,
      [](gpointer data) -> gboolean {
        g_main_loop_quit(static_cast<GMainLoop*>(data));
        return G_SOURCE_REMOVE;
      },
      loop_);
  thread_.join();
}

}  // namespace relay::ingest
