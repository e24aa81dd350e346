// A small RTSP server for the ingest tests, built on Debian's gst-rtsp-server:
// it serves one GStreamer launch line at rtsp://127.0.0.1:PORT/MOUNT, like an
// IP camera, optionally behind a basic-auth login.
//   rtsp_test_server PORT MOUNT "( ... rtph264pay name=pay0 ... )" [USER:PASSWORD]
#include <cstdio>
#include <cstring>
#include <string>

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s PORT MOUNT LAUNCH [USER:PASSWORD]\n", argv[0]);
    return 2;
  }
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  GstRTSPServer* server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, "127.0.0.1");
  gst_rtsp_server_set_service(server, argv[1]);

  GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, argv[3]);
  gst_rtsp_media_factory_set_shared(factory, TRUE);

  if (argc == 5) {
    std::string credentials = argv[4];
    auto colon = credentials.find(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "credentials must be USER:PASSWORD\n");
      return 2;
    }
    GstRTSPAuth* auth = gst_rtsp_auth_new();
    GstRTSPToken* token = gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", nullptr);
    gchar* basic = gst_rtsp_auth_make_basic(credentials.substr(0, colon).c_str(), credentials.substr(colon + 1).c_str());
    gst_rtsp_auth_add_basic(auth, basic, token);
    g_free(basic);
    gst_rtsp_token_unref(token);
    gst_rtsp_server_set_auth(server, auth);
    g_object_unref(auth);
    gst_rtsp_media_factory_add_role(factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
                                    GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, nullptr);
  }

  GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(server);
  gst_rtsp_mount_points_add_factory(mounts, argv[2], factory);
  g_object_unref(mounts);
  if (gst_rtsp_server_attach(server, nullptr) == 0) {
    std::fprintf(stderr, "cannot listen on 127.0.0.1:%s\n", argv[1]);
    return 1;
  }
  std::printf("ready rtsp://127.0.0.1:%s%s\n", argv[1], argv[2]);
  std::fflush(stdout);
  g_main_loop_run(loop);
  return 0;
}
