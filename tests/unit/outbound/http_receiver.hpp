#pragma once
// A minimal HTTP/1.1 receiver for the outbound senders' tests (webhook, uplink).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace relay::test {

// An HTTP/1.1 server on loopback that records each request and answers it with
// the status `answer` gives (and `location`, for a redirect). One request per connection.
class Receiver {
 public:
  struct Request {
    std::string method, target;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
  };
  using Answer = std::function<int(const Request&)>;

  explicit Receiver(int status, std::string location = "")
      : Receiver([status](const Request&) { return status; }, std::move(location)) {}
  explicit Receiver(Answer answer, std::string location = "") : answer_(std::move(answer)), location_(std::move(location)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string in;
      char buffer[4096];
      size_t header_end = std::string::npos, body_length = 0;
      while (true) {
        ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        in.append(buffer, static_cast<size_t>(n));
        if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != std::string::npos) {
          Request r = parse_head(in.substr(0, header_end));
          body_length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
        }
        if (header_end != std::string::npos && in.size() >= header_end + 4 + body_length) break;
      }
      int status = 400;
      if (header_end != std::string::npos) {
        Request r = parse_head(in.substr(0, header_end));
        r.body = in.substr(header_end + 4, body_length);
        status = answer_(r);
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(r));
      }
      std::string reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n";
      if (!location_.empty()) reply += "Location: " + location_ + "\r\n";
      reply += "\r\n";
      ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  static Request parse_head(const std::string& head) {
    Request r;
    size_t at = head.find("\r\n");
    const std::string request_line = head.substr(0, at);
    r.method = request_line.substr(0, request_line.find(' '));
    const size_t target = request_line.find(' ') + 1;
    r.target = request_line.substr(target, request_line.find(' ', target) - target);
    while (at != std::string::npos) {
      size_t end = head.find("\r\n", at + 2);
      std::string line = head.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      at = end;
    }
    return r;
  }

  Answer answer_;
  std::string location_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
};

}  // namespace relay::test
