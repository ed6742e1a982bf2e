#include "invoke/context.h"

namespace nil::invoke {

InvocationContext::InvocationContext(std::string function_ref, Trigger trigger, std::string input,
                                     Caller caller, TriggerDetails details)
    : function_ref_(std::move(function_ref)),
      trigger_(trigger),
      details_(std::move(details)),
      caller_(std::move(caller)),
      input_(std::move(input)) {}

}  // namespace nil::invoke
