// Every error a dray user sees derives from dray::Error and says what failed,
// where, and why (DESIGN §6).
#pragma once
#include <stdexcept>
#include <string>

namespace dray {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The task's own code threw. Carries the task name, the exception type and message.
class TaskError : public Error {
 public:
  TaskError(std::string task_name, std::string exception_type, std::string message)
      : Error("task '" + task_name + "' threw " + exception_type + ": " + message),
        task_name_(std::move(task_name)), exception_type_(std::move(exception_type)),
        message_(std::move(message)) {}
  const std::string& task_name() const { return task_name_; }
  const std::string& exception_type() const { return exception_type_; }
  const std::string& message() const { return message_; }

 private:
  std::string task_name_, exception_type_, message_;
};

class WorkerCrashedError : public Error { public: using Error::Error; };
class ActorDiedError : public Error { public: using Error::Error; };
class ActorUnavailableError : public Error { public: using Error::Error; };
class ObjectLostError : public Error { public: using Error::Error; };
class OwnerDiedError : public Error { public: using Error::Error; };
class GetTimeoutError : public Error { public: using Error::Error; };
class FunctionNotFoundError : public Error { public: using Error::Error; };

}  // namespace dray
